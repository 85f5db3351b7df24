"""Speed of a PixelCNN and a Glow training step in genbench's trainer (`model.train_step`, with its
scheduler, gradient clipping and logged loss), beside the same network, batch and optimizer in a
bare torch loop (the anchor; target: genbench <= 1.05x the anchor). Each runs on the recipe's own
hyper-parameters and batch size, on digits' shape and on Fashion-MNIST's (a random stand-in batch:
speed does not depend on the pixel values). Run: `pytest tests/benchmarks/test_pixelcnn_flow_speed.py
--benchmark-only`; compare the two rows of each group."""

import math
import statistics
import time

import pytest
import torch
from torch.nn import functional as F

from genbench.models import build_model
from genbench.models.nets import std_normal_log_prob
from genbench.recipes import load_recipe

SHAPES = {"digits": ((1, 8, 8), 17), "fashion-mnist": ((1, 28, 28), 256)}
ROUNDS = dict(rounds=20, warmup_rounds=3, iterations=1)  # steps are 10-500 ms: many rounds beat noise


def setup(family, dataset):
    recipe = load_recipe(f"{dataset}/{family}")
    shape, levels = SHAPES[dataset]
    extra = {"levels": levels} if family == "pixelcnn" else {}
    torch.manual_seed(0)
    model = build_model(family, shape, {**recipe.model_params, **extra})
    model.configure_training(recipe.train)
    batch = torch.rand(recipe.train.batch_size, *shape, generator=torch.Generator().manual_seed(1))
    return model, recipe.train, batch


def bare_loop(model, cfg, loss_fn, batch):
    """The same step without genbench: AdamW on the paper's loss, nothing else."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)

    def step():
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def pixelcnn_nll(model, x):
    L = model.L
    lv = (x * L).floor().clamp(0, L - 1).long()
    return F.cross_entropy(model.network(lv.float() * (2 / (L - 1)) - 1), lv, reduction="sum") / len(x)


def glow_nll(model, x):
    z, log_det = model.forward_flow(x)
    return -(std_normal_log_prob(z) + log_det).mean()


LOSSES = {"pixelcnn": pixelcnn_nll, "glow": glow_nll}


@pytest.mark.parametrize("dataset", SHAPES)
@pytest.mark.parametrize("family", LOSSES)
def test_genbench_train_step(benchmark, family, dataset):
    benchmark.group = f"{family}-{dataset}-step"
    model, _, batch = setup(family, dataset)
    g = torch.Generator().manual_seed(0)
    stats = benchmark.pedantic(model.train_step, args=(batch, g), **ROUNDS)
    assert torch.isfinite(torch.tensor(stats["loss"]))


@pytest.mark.parametrize("dataset", SHAPES)
@pytest.mark.parametrize("family", LOSSES)
def test_bare_torch_step_anchor(benchmark, family, dataset):
    benchmark.group = f"{family}-{dataset}-step"
    model, cfg, batch = setup(family, dataset)
    model.train()
    benchmark.pedantic(bare_loop(model, cfg, LOSSES[family], batch), **ROUNDS)
    # the anchor computes the loss genbench trains on (up to the constant D log L of the PixelCNN);
    # a float, not a tensor: pytest.approx takes a tensor for a sequence unless numpy is imported
    offset = model.dim * math.log(model.L) if family == "pixelcnn" else 0.0
    with torch.no_grad():
        assert LOSSES[family](model, batch).item() == pytest.approx(model.loss(batch, None).item() + offset, rel=1e-4)


@pytest.mark.parametrize("dataset", SHAPES)
@pytest.mark.parametrize("family", LOSSES)
def test_genbench_over_bare_interleaved(benchmark, family, dataset):
    """Both steps in alternating order within each round, so that a busy machine slows both alike:
    the ratio of medians is in extra_info (`--benchmark-columns` does not show it; see the JSON or
    the printed line with -s)."""
    benchmark.group = "genbench-over-bare-interleaved"
    model, _, batch = setup(family, dataset)
    twin, cfg, _ = setup(family, dataset)
    twin.train()
    bare, g = bare_loop(twin, cfg, LOSSES[family], batch), torch.Generator().manual_seed(0)
    times = {"genbench": [], "bare": []}
    rounds = iter(range(10**9))

    def timed(key, fn):
        start = time.perf_counter()
        fn()
        times[key].append(time.perf_counter() - start)

    def pair():
        steps = [("genbench", lambda: model.train_step(batch, g)), ("bare", bare)]
        for key, fn in steps if next(rounds) % 2 else reversed(steps):
            timed(key, fn)

    benchmark.pedantic(pair, **ROUNDS)
    ratio = statistics.median(times["genbench"]) / statistics.median(times["bare"])
    benchmark.extra_info["genbench_over_bare"] = round(ratio, 3)
    print(f"\n{family} {dataset}: genbench {1000 * statistics.median(times['genbench']):.1f} ms, "
          f"bare {1000 * statistics.median(times['bare']):.1f} ms, ratio {ratio:.3f}")
