"""The `gpu` recipes are not run in CI, but each runs two steps here on a tiny synthetic stand-in of
its dataset's shape (CPU, the domain extractor of the same channel count in place of Inception),
so a recipe that cannot train or score is caught before anyone rents a GPU for it."""

import dataclasses
import math

import pytest
import torch

import genbench.runs
from genbench.errors import GenbenchError
from genbench.recipes import load_recipe, load_suite
from tests.stand_ins import SHAPES, stand_in, use_stand_in


def short_params(recipe) -> dict:
    params = dict(recipe.model_params)
    if "timesteps" in params:
        params["timesteps"] = 20  # 1000 denoising passes over 450 samples would only cost time here
        params["sample_steps"] = 2  # DDIM: the U-Net's 50-100 passes over 450 samples take minutes on a CPU
    return params


@pytest.mark.slow
@pytest.mark.parametrize("recipe_id", load_suite("gpu")[0]["recipes"])
def test_gpu_recipe_runs_two_steps_on_a_stand_in(tmp_path, monkeypatch, recipe_id):
    recipe = load_recipe(recipe_id)
    assert recipe.device == "cuda" and recipe.dataset in SHAPES
    assert recipe.train.precision == "bf16" and recipe.train.channels_last  # the speed options, on the CPU here
    use_stand_in(monkeypatch, recipe.dataset)
    short = dataclasses.replace(recipe, model_params=short_params(recipe), n_samples=450, extractor=None,
                                train=dataclasses.replace(recipe.train, steps=2, batch_size=16, checkpoint_every=1))
    record = genbench.runs.run_recipe(short, 0, runs=tmp_path, device="cpu", progress=False)
    assert record["train"]["steps"] == 2
    assert any(k.startswith("fid@") for k in record["metrics"])
    assert all(math.isfinite(v) for v in record["metrics"].values())


@pytest.mark.slow
@pytest.mark.parametrize("recipe_id", load_suite("gpu-full")[0]["recipes"])
def test_gpu_full_recipe_builds_trains_and_samples_at_its_scale(recipe_id):
    """The papers' networks, one step and two samples each: the `gpu` recipes above already take the
    same families through training, checkpoint and every metric, so scoring hundreds of samples
    through these large networks on a CPU would test nothing more."""
    from genbench.models import build_for
    from genbench.training import fit

    recipe = load_recipe(recipe_id)
    assert recipe.device == "cuda" and recipe.train.precision == "bf16" and recipe.train.channels_last
    full = stand_in(recipe.dataset)
    data = dataclasses.replace(full, train=full.train[:8])  # Glow's actnorm starts from the statistics of all of it
    model = build_for(recipe.model, data, short_params(recipe))
    g = torch.Generator().manual_seed(0)
    info = fit(model, data, dataclasses.replace(recipe.train, steps=1, batch_size=4, checkpoint_every=0), g, False)
    assert info["steps"] == 1 and all(math.isfinite(v) for v in info["final"].values())
    model.eval()
    x = model.sample(2, g)
    assert x.shape == (2, *data.shape) and torch.isfinite(x).all()


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_gpu_datasets_offline_say_what_to_download(tmp_path, monkeypatch, name):
    from genbench.data import load_dataset

    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    with pytest.raises(GenbenchError) as e:
        load_dataset(name)
    msg = str(e.value)
    assert "not found" in msg and "SHA-256" in msg and "https://" in msg and str(tmp_path) in msg


def test_cifar_binary_records_parse_without_pickle():
    from genbench.data.mnist import read_cifar_binary

    record = bytes([7]) + bytes(range(256)) * 12
    x, y = read_cifar_binary(record * 2, "two records")
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [7, 7] and x[0, 0, 0, 1] == 1
    with pytest.raises(GenbenchError, match="not a CIFAR-10 binary batch"):
        read_cifar_binary(record[:-1], "truncated")
