"""nanoGPT's shakespeare-char protocol (karpathy/nanoGPT: data/shakespeare_char/prepare.py, train.py
get_batch / estimate_loss / get_lr, model.py configure_optimizers) as genbench reproduces it."""

import dataclasses
import math

import pytest
import torch

from genbench.data import load_dataset
from genbench.data.fetch import fetch
from genbench.data.text import TINY_SHAKESPEARE
from genbench.errors import GenbenchError
from genbench.metrics import build_metric
from genbench.metrics.val_loss import val_windows
from genbench.models import build_for
from genbench.models.neural import lr_factor, param_groups
from genbench.recipes import load_recipe, load_suite
from genbench.training import TrainConfig

NANO = {"context": 65, "train_stride": 1, "split_rounding": "down"}


def test_split_and_vocabulary_are_nanogpts():
    text = open(fetch(TINY_SHAKESPEARE), encoding="utf-8").read()
    n = len(text)
    chars = sorted(set(text))  # prepare.py: chars = sorted(list(set(data)))
    stoi = {c: i for i, c in enumerate(chars)}
    train_ids = torch.tensor([stoi[c] for c in text[:int(n * 0.9)]])
    val_ids = torch.tensor([stoi[c] for c in text[int(n * 0.9):]])
    d = load_dataset("shakespeare-char", NANO)
    assert d.vocab == chars and len(chars) == 65
    # every window of block_size + 1 that get_batch can draw: starts 0 .. len(train) - block_size - 1
    assert len(d.train) == len(train_ids) - 64
    assert d.train[:, 0].equal(train_ids[:-64]) and d.train[-1].equal(train_ids[-65:])
    assert d.stream and d.test.reshape(-1).equal(val_ids[:len(d.test.reshape(-1))])
    assert len(val_ids) - d.test.numel() < 65  # only a tail shorter than one window is lost (here none)
    # the default rounds to the nearest character, one later on this corpus: kept for old recipes
    plain = load_dataset("shakespeare-char", {"context": 65})
    assert plain.test.reshape(-1).equal(val_ids[1:1 + plain.test.numel()])
    assert "split_rounding" not in plain.params and d.params["split_rounding"] == "down"


def nano_get_lr(it, learning_rate=1e-3, warmup_iters=100, lr_decay_iters=2000, min_lr=1e-4):
    """train.py's get_lr, transcribed for the comparison."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * decay_ratio)) * (learning_rate - min_lr)


def test_min_lr_cosine_matches_nanogpt_after_warm_up():
    cfg = TrainConfig(steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100, schedule="cosine")
    f = lr_factor(cfg)
    for step in (100, 101, 500, 1050, 1999, 2000, 2500):
        assert cfg.lr * f(step) == pytest.approx(nano_get_lr(step), rel=1e-12, abs=1e-15)
    # warm-up: genbench's default (s + 1) / warmup against nanoGPT's (s + 1) / (warmup + 1), within 1 %
    for step in (0, 50, 99):
        assert cfg.lr * f(step) == pytest.approx(nano_get_lr(step), rel=0.0101)
        assert cfg.lr * f(step) != pytest.approx(nano_get_lr(step), rel=1e-6)
    assert lr_factor(TrainConfig(steps=2000, schedule="cosine", warmup_steps=100))(2000) == 0.0  # default: to zero


def test_warmup_shapes_are_train_pys_then_and_now():
    now = lr_factor(TrainConfig(steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100, schedule="cosine",
                                warmup_shape="(s+1)/(w+1)"))
    then = lr_factor(TrainConfig(steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100, schedule="cosine",
                                 warmup_shape="s/w"))
    for step in (0, 1, 50, 99, 100, 1000, 2000):
        assert 1e-3 * now(step) == pytest.approx(nano_get_lr(step), rel=1e-12, abs=1e-15)
    assert then(0) == 0.0 and then(50) == 0.5 and then(100) == 1.0  # lr * it / warmup_iters, then the cosine
    d = load_dataset("shakespeare-char", {"context": 16})
    with pytest.raises(GenbenchError, match="warmup_shape"):
        TrainConfig(warmup_shape="s/w").check(d)


def test_replacement_sampling_is_get_batchs_independent_draws():
    from genbench.training import EpochSampler

    g = torch.Generator().manual_seed(3)
    sampler = EpochSampler(10, 8, g, replacement=True)
    draws = torch.stack([sampler.next() for _ in range(200)])
    assert draws.shape == (200, 8) and draws.min() == 0 and draws.max() == 9
    # with replacement: repeats inside a batch (8 of 10 rows without repeats is 1.8 % likely per batch)
    assert sum(len(set(b.tolist())) < 8 for b in draws) > 150
    # get_batch's ix = torch.randint(n, (batch_size,)) on the run's generator, nothing else drawn
    assert draws[0].equal(torch.randint(10, (8,), generator=torch.Generator().manual_seed(3)))
    epochs = EpochSampler(10, 5, torch.Generator().manual_seed(3))
    assert sorted(torch.cat([epochs.next(), epochs.next()]).tolist()) == list(range(10))  # the default: epochs
    with pytest.raises(GenbenchError, match="replacement"):
        TrainConfig(sampling="replacement").check(load_dataset("shakespeare-char", {"context": 16}))


def tiny_no_bos(T=3):
    d = load_dataset("shakespeare-char", {"context": T})
    torch.manual_seed(0)
    m = build_for("transformer", d, {"layers": 1, "width": 8, "heads": 2, "bos": False, "positions": "learned"})
    m.initialize(d.train, torch.Generator().manual_seed(0))
    return d, m


def test_no_bos_model_is_nanogpts_input_and_loss():
    d, m = tiny_no_bos(T=6)
    assert m.token.num_embeddings == 65 and m.position.num_embeddings == 5  # no BOS row, T - 1 positions
    # P(x_1): the training rows' first characters, add-one smoothed
    counts = torch.bincount(d.train[:, 0], minlength=65).double() + 1
    assert torch.allclose(m.first.exp().double(), counts / counts.sum())
    x = d.test[:4]
    logits = m.next_logits(x)
    assert torch.allclose(logits[:, 0], m.first.expand(4, -1))
    # position t >= 1 sees x_1 .. x_t only: changing x_T moves no logit, changing x_1 moves all but the first
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 65
    assert torch.equal(m.next_logits(y), logits)
    y[:, 0] = (y[:, 0] + 1) % 65
    assert not torch.allclose(m.next_logits(y)[:, 1:], logits[:, 1:])
    # the training loss averages the network's T - 1 terms alone (nanoGPT's 64 of a 65-character window)
    want = torch.nn.functional.cross_entropy(logits[:, 1:].reshape(-1, 65), x[:, 1:].reshape(-1))
    assert m.token_nll(x).item() == pytest.approx(want.item(), rel=1e-6)
    # the row's likelihood keeps the first term, so perplexity is still of whole rows
    lp = torch.log_softmax(logits.double(), -1).gather(2, x[:, :, None])[:, :, 0].sum(1)
    assert torch.allclose(m.log_prob(x), lp, atol=1e-6)


def test_no_bos_model_is_a_distribution_and_samples_from_it():
    d, m = tiny_no_bos(T=2)
    rows = torch.cartesian_prod(torch.arange(65), torch.arange(65))  # every row of 2 characters
    with torch.no_grad():
        total = torch.logsumexp(m.log_prob(rows), 0).exp().item()
    assert total == pytest.approx(1.0, abs=1e-9)
    first = m.sample(20000, torch.Generator().manual_seed(1))[:, 0]
    freq = torch.bincount(first, minlength=65).double() / 20000
    assert (freq - m.first.exp().double()).abs().max() < 0.015  # the first character from P(x_1)


def test_nanogpt_recipe_is_train_pys_input_sampling_and_warm_up():
    r = load_recipe("shakespeare-char/nanogpt")
    assert r.model_params["bos"] is False and r.train.sampling == "replacement"
    assert r.train.warmup_shape == "(s+1)/(w+1)"
    first, peer = r.references()
    assert first.values["val_loss"][0] == 1.88 and "3adf61e" in peer.source
    assert set(peer.values) == {"val_loss", "val_loss_all"} and peer.trials == 3


def test_min_lr_needs_the_cosine_schedule():
    d = load_dataset("shakespeare-char", {"context": 16})
    with pytest.raises(GenbenchError, match="min_lr is where the cosine schedule ends"):
        TrainConfig(min_lr=1e-4).check(d)
    with pytest.raises(GenbenchError, match="min_lr <= lr"):
        TrainConfig(min_lr=1e-2, lr=1e-3, schedule="cosine").check(d)


def test_weight_decay_on_matrices_exempts_biases_and_gains():
    d = load_dataset("shakespeare-char", {"context": 16})
    m = build_for("transformer", d, {"layers": 1, "width": 16, "heads": 2})
    every = param_groups(m, TrainConfig(weight_decay=0.1))
    assert len(every) == 1 and every[0]["weight_decay"] == 0.1
    decay, no_decay = param_groups(m, TrainConfig(weight_decay=0.1, weight_decay_on="matrices"))
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(m.parameters())) and no_decay["params"]
    # one AdamW step with zero gradients: only decay moves a weight, and not a LayerNorm gain
    m.configure_training(TrainConfig(lr=0.1, weight_decay=0.5, weight_decay_on="matrices"))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    m.optimizer.step()
    after = m.state_dict()
    assert after["ln.weight"].equal(before["ln.weight"])
    assert not after["token.weight"].equal(before["token.weight"])


def test_bias_false_and_tied_weights_are_nanogpts_parameter_count():
    """model.py's GPT for the README's CPU run has 804,096 parameters (bias=False, wte tied to lm_head,
    64 positions, no BOS); genbench's recipe has exactly those."""
    d = load_dataset("shakespeare-char", NANO)
    r = load_recipe("shakespeare-char/nanogpt")
    m = build_for(r.model, d, r.model_params)
    assert sum(p.numel() for p in m.parameters()) == 804_096
    assert not any(name.endswith("bias") for name, _ in m.named_parameters())
    assert m.head is None
    final = []
    m.ln.register_forward_hook(lambda mod, inp, out: final.append(out))
    logits = m.next_logits(d.test[:3])
    assert torch.allclose(logits[:, 1:], final[0] @ m.token.weight[:65].T, atol=1e-5)  # W = E[:V]
    default = build_for("transformer", d, {"layers": 1, "width": 16, "heads": 2})
    assert default.head is not None and default.ln.bias is not None  # defaults unchanged
    assert default.token.num_embeddings == 66 and default.position.num_embeddings == 65  # with BOS


class Recorder(torch.nn.Module):
    """A stand-in model whose next-token logits put all mass on a fixed guess, recording its mode."""
    has_log_prob = True

    def __init__(self, V):
        super().__init__()
        self.V, self.w, self.modes = V, torch.nn.Parameter(torch.zeros(1)), []

    def next_logits(self, x):
        self.modes.append(self.training)
        return torch.nn.functional.one_hot(torch.zeros_like(x), self.V).float() * 3.0 + self.w


def test_val_loss_is_estimate_loss_on_random_windows():
    assert len(load_dataset("shakespeare-char", NANO).test.reshape(-1).unfold(0, 65, 1)) == 111_476
    d = load_dataset("shakespeare-char", {**NANO, "test_fraction": 0.01})  # the same code on a shorter stream
    model = Recorder(65)
    model.train()
    metric = build_metric("val-loss", {"eval_iters": 4, "eval_batch_size": 3})
    got = metric.compute(None, d, model, generator=torch.Generator().manual_seed(7))
    assert model.modes and not any(model.modes) and model.training  # eval mode throughout, restored after
    # by hand: each batch's mean cross-entropy over targets 2..65 of its windows, then the mean of the batches
    stream = d.test.reshape(-1)
    windows = val_windows(stream, 65, 4, 3, torch.Generator().manual_seed(7))
    logp_right, logp_wrong = 3 - math.log(math.e ** 3 + 64), -math.log(math.e ** 3 + 64)

    def loss(w):
        return -torch.where(w[:, 1:] == 0, logp_right, logp_wrong).double().mean().item()

    assert got["val_loss"] == pytest.approx(sum(loss(w) for w in windows) / 4, rel=1e-6)
    every = stream.unfold(0, 65, 1)  # every window get_batch could draw, starts 0 .. len - 65
    assert windows.shape == (4, 3, 65)
    assert all((every == w).all(1).any() for w in windows.reshape(-1, 65))
    assert got["val_loss_all"] == pytest.approx(loss(every), rel=1e-6)  # the mean the estimate estimates
    sparse = build_metric("val-loss", {"eval_iters": 1, "eval_batch_size": 1, "eval_every": 1000})
    assert sparse.compute(None, d, model)["val_loss_all"] == pytest.approx(loss(every[::1000]), rel=1e-6)
    assert build_metric("val-loss", {}).eval_iters == 200  # defaults: config/train_shakespeare_char.py


def test_val_loss_windows_come_from_the_scoring_stream():
    """Each seed's run draws its own windows (nanoGPT's from its seed's stream), so the estimate's
    noise averages out over seeds; the same stream gives the same windows."""
    d = load_dataset("shakespeare-char", {**NANO, "test_fraction": 0.01})
    stream = d.test.reshape(-1)
    a, b, c = (val_windows(stream, 65, 20, 12, torch.Generator().manual_seed(s)) for s in (1, 1, 2))
    assert a.equal(b) and not a.equal(c)
    from genbench.scoring import evaluate

    scores = [evaluate(d, ["val-loss"], model=Recorder(65), generator=torch.Generator().manual_seed(s),
                       progress=False, options={"eval_iters": 2, "eval_batch_size": 3, "eval_every": 100})["metrics"]
              for s in (1, 1, 2)]
    assert scores[0] == scores[1] and scores[0]["val_loss"] != scores[2]["val_loss"]
    assert scores[0]["val_loss_all"] == scores[2]["val_loss_all"]


def test_val_loss_refuses_a_dataset_that_is_not_one_text():
    assert build_metric("val-loss").applies(load_dataset("oracle")) is not None


@pytest.mark.slow
@pytest.mark.parametrize("recipe_id", ["shakespeare-char/nanogpt", "shakespeare-char/nanogpt-gpu"])
def test_nanogpt_recipes_load_and_train_two_steps(tmp_path, recipe_id):
    from genbench.runs import run_recipe

    recipe = load_recipe(recipe_id)
    assert recipe.published.values["val_loss"][0] == {"shakespeare-char/nanogpt": 1.88}.get(recipe_id, 1.4697)
    assert recipe_id in load_suite("text" if recipe_id.endswith("nanogpt") else "text-gpu")[0]["recipes"]
    small = {**recipe.model_params, "layers": 1} if recipe_id.endswith("gpu") else recipe.model_params
    short = dataclasses.replace(recipe, model_params=small,
                                eval_options={"eval_iters": 2, "eval_batch_size": 4, "eval_every": 5000},
                                train=dataclasses.replace(recipe.train, steps=2, batch_size=4))
    record = run_recipe(short, 0, runs=tmp_path, device="cpu", progress=False)
    assert record["train"]["steps"] == 2 and set(record["metrics"]) >= {"val_loss", "perplexity"}
    assert all(math.isfinite(v) for v in record["metrics"].values())
    # The checkpoint carries the windows it was scored on (20x12 in the recipe, 2x4 here, not the
    # metric's 200x64 defaults): scored again with no flags, it gives its record.
    from genbench.api import score

    again = score(checkpoint=tmp_path / recipe_id / "seed0/model.safetensors", device="cpu", quiet=True)
    assert again["metrics"] == record["metrics"]
    # Other metrics asked for do not take the windows: they are not refused for them.
    assert score(checkpoint=tmp_path / recipe_id / "seed0/model.safetensors", device="cpu", quiet=True,
                 metrics="perplexity")["metrics"]["perplexity"] == record["metrics"]["perplexity"]
