"""The text models: exact log-probabilities that sum to one, samples that follow them, checkpoints."""

import itertools
import math

import pytest
import torch

from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.data import load_dataset
from genbench.models import build_model
from genbench.training import TrainConfig, fit
from tests.test_text_metrics import Uniform

VOCAB = ["a", "b", "c"]
TINY = {"ngram": {"order": 3}, "lstm": {"embedding": 4, "hidden": 8, "layers": 2},
        "transformer": {"layers": 2, "width": 8, "heads": 2},
        "transformer-rotary": {"layers": 2, "width": 8, "heads": 2, "positions": "rotary", "activation": "relu2"}}
MODELS = ["ngram", "lstm", "transformer", "transformer-rotary"]


def tiny_model(name, T=3, vocab=VOCAB, seed=0, **extra):
    torch.manual_seed(seed)
    model = build_model(name.split("-")[0], (T,), {**TINY[name], **extra}, vocab=vocab)
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, len(vocab), (40, T), generator=g)
    data[:20, 1] = data[:20, 0]  # some structure to learn
    if name == "ngram":
        model.initialize(data, g)
    else:
        with torch.no_grad():  # random weights, scaled up so the conditionals are far from uniform
            for p in model.parameters():
                p.mul_(3 if name == "transformer-rotary" else 8)  # (ReLU^2 squares the scale)
    return model.eval()


def all_sequences(V, T):
    return torch.tensor(list(itertools.product(range(V), repeat=T)))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.5, 0), (1.7, 2)])
def test_log_prob_is_a_distribution_over_all_sequences(name, temperature, top_k):
    model = tiny_model(name, temperature=temperature, top_k=top_k)
    with torch.no_grad():
        p = model.log_prob(all_sequences(3, 3)).exp()
    assert math.isclose(p.sum().item(), 1.0, abs_tol=1e-9)
    if top_k:
        assert (p == 0).sum() >= 27 - 8  # at most 2 choices per step survive
    assert p.max() < 0.99  # not degenerate


@pytest.mark.parametrize("name", MODELS)
def test_samples_follow_log_prob(name):
    """Sampling (step by step, KV cache / LSTM state) and log_prob (teacher forcing) are the same model."""
    model = tiny_model(name, T=3, vocab=["x", "y"], temperature=0.8)
    x = model.sample(6000, torch.Generator().manual_seed(1))
    seqs = all_sequences(2, 3)
    with torch.no_grad():
        p = model.log_prob(seqs).exp()
    codes = (x * torch.tensor([4, 2, 1])).sum(1)
    freq = torch.bincount(codes, minlength=8).double() / len(x)
    se = (p * (1 - p) / len(x)).sqrt()
    assert ((freq - p).abs() <= 5 * se + 1e-3).all(), (freq, p)


def test_sampling_uses_only_the_given_generator():
    model = tiny_model("transformer", T=5)
    a = model.sample(50, torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global stream must not matter
    b = model.sample(50, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, model.sample(50, torch.Generator().manual_seed(4)))


def test_ngram_sums_to_one_for_random_contexts_on_shakespeare():
    ds = load_dataset("shakespeare-char", {"context": 32})
    for order in (1, 2, 5):
        model = build_model("ngram", ds.shape, {"order": order}, vocab=ds.vocab)
        model.initialize(ds.train[:2000], torch.Generator())
        g = torch.Generator().manual_seed(order)
        contexts = torch.randint(0, model.V + 1, (500, order - 1), generator=g)  # mostly unseen; BOS included
        contexts[:250] = ds.test[:250, :order - 1]  # and seen ones
        p = model.distribution(contexts)
        assert (p > 0).all()
        assert torch.allclose(p.sum(1), torch.ones(500, dtype=torch.float64), atol=1e-12)


def test_ngram_kneser_ney_by_hand():
    """A bigram on one sequence 'aab', computed from the formula on paper."""
    model = build_model("ngram", (3,), {"order": 2, "discount": 0.5}, vocab=["a", "b"])
    model.initialize(torch.tensor([[0, 0, 1]]), torch.Generator())
    # bigrams (BOS a) (a a) (a b); unigram continuation counts N1+(. a) = 2, N1+(. b) = 1
    p1 = {"a": (2 - 0.5) / 3 + 0.5 * 2 / 3 * 0.5, "b": (1 - 0.5) / 3 + 0.5 * 2 / 3 * 0.5}
    after_a = {"a": (1 - 0.5) / 2 + 0.5 * 2 / 2 * p1["a"], "b": (1 - 0.5) / 2 + 0.5 * 2 / 2 * p1["b"]}
    p = model.distribution(torch.tensor([[0], [1]]))
    assert torch.allclose(p[0], torch.tensor([after_a["a"], after_a["b"]], dtype=torch.float64))
    assert torch.allclose(p[1], torch.tensor([p1["a"], p1["b"]], dtype=torch.float64))  # 'b' never a context


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name, tmp_path):
    model = tiny_model(name, T=4)
    save_checkpoint(model, tmp_path / "m.safetensors", {"dataset": "none"})
    loaded, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config["hparams"]["vocab"] == VOCAB
    x = all_sequences(3, 4)
    with torch.no_grad():
        assert torch.equal(model.log_prob(x), loaded.log_prob(x))


def test_neural_model_learns_and_is_deterministic():
    ds = load_dataset("oracle", {"vocab_size": 8, "length": 6, "n_train": 600, "n_test": 200})
    cfg = TrainConfig(steps=60, batch_size=32, lr=1e-2)
    uniform = -Uniform(ds.shape, ds.vocab).log_prob(ds.test).mean().item() / 6
    results = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        model = build_model("lstm", ds.shape, {"embedding": 8, "hidden": 16, "layers": 1}, vocab=ds.vocab)
        info = fit(model, ds, cfg, torch.Generator().manual_seed(seed), progress=False)
        with torch.no_grad():
            results.append(-model.log_prob(ds.test).mean().item() / 6)
        assert info["steps"] == 60
    assert results[0] == results[1] != results[2]
    assert results[0] < uniform - 0.2  # learnt something (uniform = ln 8)


def test_rotary_attention_scores_depend_only_on_the_distance_between_positions():
    from genbench.models.transformer import rotate
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, 1, 16, generator=g, dtype=torch.float64)
    def score(i, j):
        return (rotate(q, torch.tensor([i])) * rotate(k, torch.tensor([j]))).sum().item()
    assert score(3, 1) == pytest.approx(score(10, 8), rel=1e-6)
    assert score(3, 1) == pytest.approx(score(102, 100), rel=1e-6)
    assert score(3, 1) != pytest.approx(score(3, 2), rel=1e-3)  # but they do depend on the distance
    assert torch.allclose(rotate(q, torch.tensor([0])), q)  # position 0 is not rotated


def test_inconsistent_transformer_shape_is_a_one_line_error():
    from genbench.errors import GenbenchError
    with pytest.raises(GenbenchError, match="multiple of heads"):
        build_model("transformer", (8,), {"width": 6, "heads": 2, "positions": "rotary"}, vocab=VOCAB)
