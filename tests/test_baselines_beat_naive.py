"""After its committed CPU recipe (seed 0, full budget), each model beats a naive reference on its main
metric: FID on digits below a "mean image + Gaussian noise" sampler's, and test NLL on grid25 below a
single Gaussian's for every model with an exact likelihood. These run the real recipes, so they are slow.
The same seed gives other numbers on another CPU, and a GAN amplifies the difference, so each margin
must hold across seeds, not for seed 0 here alone: a recipe whose seeds straddle its reference is a
recipe to fix (digits/gan v2 collapsed and lost to mean + noise on another machine; v3 wins by ~7x).
"""

import math

import pytest
import torch

from genbench.data import load_dataset
from genbench.recipes import load_recipe
from genbench.runs import run_recipe
from genbench.scoring import evaluate

pytestmark = pytest.mark.slow

DIGITS = ["digits/gmm", "digits/made", "digits/vae", "digits/gan", "digits/wgan-gp", "digits/realnvp", "digits/ddpm",
          "digits/unet-ddpm", "digits/conv-vae"]
GRID25_EXACT = ["grid25/gmm", "grid25/made", "grid25/realnvp"]


def fid_key(metrics):
    (key,) = [k for k in metrics if k.startswith("fid@")]
    return key


@pytest.fixture(scope="module")
def naive_digits_fid():
    """FID of mean train image + per-pixel Gaussian noise (the train set's per-pixel std), as many
    samples as a recipe scores."""
    ds = load_dataset("digits")
    x = ds.continuous(ds.train, torch.Generator().manual_seed(0)).float()
    g = torch.Generator().manual_seed(1)
    naive = (x.mean(0) + x.std(0) * torch.randn(x.shape, generator=g)).clamp(0, 1)
    metrics = evaluate(ds, ["fid"], samples=naive, progress=False)["metrics"]
    return metrics[fid_key(metrics)]


@pytest.mark.parametrize("recipe_id", DIGITS)
def test_every_digits_model_beats_mean_plus_noise_on_fid(tmp_path, naive_digits_fid, recipe_id):
    record = run_recipe(load_recipe(recipe_id), 0, runs=tmp_path, device="cpu", progress=False)
    fid = record["metrics"][fid_key(record["metrics"])]
    assert math.isfinite(fid) and naive_digits_fid > 20  # the reference is genuinely bad...
    assert fid < naive_digits_fid, f"{recipe_id}: FID {fid:.2f} vs mean+noise {naive_digits_fid:.2f}"


def single_gaussian_nll(ds) -> float:
    """Test NLL (nats) of the maximum-likelihood Gaussian fitted to the train split."""
    x = ds.train.double()
    mvn = torch.distributions.MultivariateNormal(x.mean(0), covariance_matrix=torch.cov(x.T, correction=0))
    return float(-mvn.log_prob(ds.test.double()).mean())


@pytest.mark.parametrize("recipe_id", GRID25_EXACT)
def test_every_exact_likelihood_model_beats_one_gaussian_on_grid25_nll(tmp_path, recipe_id):
    reference = single_gaussian_nll(load_dataset("grid25"))
    assert 4.8 < reference < 5.0  # log(2 pi e) + log det of the grid's covariance: about 4.91
    record = run_recipe(load_recipe(recipe_id), 0, runs=tmp_path, device="cpu", progress=False)
    assert record["metrics"]["nll"] < reference - 1.0, f"{recipe_id}: NLL {record['metrics']['nll']:.3f} vs {reference:.3f}"
