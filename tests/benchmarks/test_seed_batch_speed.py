"""Speed of the trainer's seed-batched path (genbench.seed_batch.fit_seeds) beside the anchor, the
same ten seeds trained one after another by `training.fit`, which is what `bench pacgan` does
without `--batch-seeds`: PacGAN's 2-D networks (G 4x400 BN+ReLU, D 3 maxout layers 200x5,
simultaneous update, 100 D inputs per step) on grid25, the same recipe settings, the same steps.
Compare the two rows of group 'seed-batch-pack{m}'. Run:
`pytest tests/benchmarks/test_seed_batch_speed.py --benchmark-only`."""

import pytest
import torch

from genbench.data import load_dataset
from genbench.env import seed_everything
from genbench.models import build_for
from genbench.seed_batch import fit_seeds
from genbench.training import TrainConfig, fit

SEEDS, STEPS = 10, 20
PAPER = {"latent": 2, "hidden": 400, "layers": 4, "batch_norm": True, "g_activation": "relu",
         "discriminator": "maxout", "d_hidden": 200, "d_layers": 3, "maxout_pieces": 5, "init_std": 0.02,
         "update": "simultaneous"}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("grid25", {"n_train": 100000})


def seeds(dataset, pack):
    out = []
    for s in range(SEEDS):
        g = seed_everything(s, torch.device("cpu"))
        out.append((build_for("gan", dataset, {**PAPER, "pack": pack}), g))
    return out


def config(pack):
    return TrainConfig(steps=STEPS, batch_size=100 * pack, lr=1e-4, beta1=0.8, beta2=0.999)


def separate(dataset, pack):
    return [fit(m, dataset, config(pack), g, progress=False) for m, g in seeds(dataset, pack)]


def batched(dataset, pack):
    models, gens = zip(*seeds(dataset, pack), strict=True)
    return fit_seeds(list(models), dataset, config(pack), list(gens), progress=False)


@pytest.mark.parametrize("pack", [1, 4])
def test_ten_seeds_one_after_another_anchor(benchmark, dataset, pack):
    benchmark.group = f"seed-batch-pack{pack}"
    out = benchmark.pedantic(separate, args=(dataset, pack), rounds=3, iterations=1, warmup_rounds=1)
    assert [o["steps"] for o in out] == [STEPS] * SEEDS


@pytest.mark.parametrize("pack", [1, 4])
def test_ten_seeds_batched(benchmark, dataset, pack):
    benchmark.group = f"seed-batch-pack{pack}"
    out = benchmark.pedantic(batched, args=(dataset, pack), rounds=3, iterations=1, warmup_rounds=1)
    assert [o["steps"] for o in out] == [STEPS] * SEEDS
