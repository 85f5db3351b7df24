"""Samples of the image flows (Glow, RealNVP) are finite, and their inverse undoes the forward map on
data (issue 34: fashion-mnist/glow v1 gave 5-23% NaN or infinite samples per seed)."""

import dataclasses

import pytest
import torch

from genbench.data import load_dataset
from genbench.env import seed_everything
from genbench.errors import GenbenchError
from genbench.models import build_for, build_model
from genbench.recipes import load_recipe
from genbench.seeds import training
from genbench.training import fit
from tests.stand_ins import stand_in

RECIPES = ["digits/glow", "fashion-mnist/glow", "digits/realnvp", "fashion-mnist/realnvp"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small convolutions: one thread is faster than two on a shared 2-core machine (measured 10x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dataset_of(recipe):
    try:
        return load_dataset(recipe.dataset, recipe.dataset_params)
    except GenbenchError:  # Fashion-MNIST's files are not on this machine
        return stand_in(recipe.dataset)


def finite_rows(x: torch.Tensor) -> int:
    return int(torch.isfinite(x.flatten(1)).all(1).sum())


@pytest.mark.parametrize("recipe_id", RECIPES)
def test_a_few_steps_of_each_image_flow_recipe_sample_finite_and_invert_data_on_every_seed(recipe_id):
    """The recipe's own network and optimizer, 5 steps per seed (the budget is what the recipe's
    full run adds), then samples at the recipe's temperature and a round trip of test images."""
    recipe = load_recipe(recipe_id)
    ds = dataset_of(recipe)
    cfg = dataclasses.replace(recipe.train, steps=5, warmup_steps=min(recipe.train.warmup_steps, 4))
    x = ds.continuous(ds.test[:64], torch.Generator().manual_seed(1))
    for seed in recipe.seeds:
        g = seed_everything(training(seed), torch.device("cpu"))
        model = build_for(recipe.model, ds, recipe.model_params)
        fit(model, ds, cfg, g, progress=False)
        model.eval()
        with torch.no_grad():
            samples = model.sample(200, torch.Generator().manual_seed(seed))
            back = model.inverse_flow(model.forward_flow(x)[0])
        assert finite_rows(samples) == 200, f"seed {seed}"
        # float32 rounding through the logit, 1x1 convolutions and couplings: 1e-5 of a unit range
        assert (back.reshape(x.shape) - x).abs().max().item() < 1e-5, f"seed {seed}"


def test_glow_samples_are_finite_however_large_its_scale_nets_outputs():
    """The coupling and prior nets' last layers, zero at the start, set to weights of size 1: their
    outputs reach hundreds off the data, so an unbounded scale's inverse (1 / sigmoid(r + 2),
    exp(log sigma)) overflows. The bounded scales cap each step's expansion: every sample is finite."""
    torch.manual_seed(0)
    model = build_model("glow", (1, 28, 28), {"scales": 2, "steps": 4, "hidden": 16})
    model.initialize(torch.rand(256, 1, 28, 28), torch.Generator().manual_seed(0))
    for name, p in model.named_parameters():
        if name.endswith(("net.4.weight", "prior.weight")):
            p.data = torch.randn_like(p)
    model.eval()
    samples = model.sample(100, torch.Generator().manual_seed(0))
    assert finite_rows(samples) == 100


def test_glow_temperature_scales_the_latent_and_log_prob_scores_what_is_sampled():
    """x = f^-1(T z) for the same draw z, and log_prob at T is that sample's density,
    log N(f(x); 0, T^2 I) + log|det df/dx|; a draw's own `temperature` overrides the model's."""
    torch.manual_seed(0)
    cold = build_model("glow", (1, 8, 8), {"scales": 2, "steps": 2, "hidden": 8, "temperature": 0.7})
    warm = build_model("glow", (1, 8, 8), {"scales": 2, "steps": 2, "hidden": 8})
    warm.load_state_dict(cold.state_dict())
    for m in (cold, warm):
        m.eval()
    x = cold.sample(4, torch.Generator().manual_seed(3))
    z = torch.randn(4, cold.dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(x, cold.inverse_flow(0.7 * z))
        z_back, log_det = cold.forward_flow(x)
        expected = torch.distributions.Normal(0.0, 0.7).log_prob(z_back).sum(1) + log_det
        torch.testing.assert_close(cold.log_prob(x), expected, rtol=1e-5, atol=1e-3)
        assert not torch.allclose(cold.log_prob(x), warm.log_prob(x))
    assert torch.equal(warm.sample(4, torch.Generator().manual_seed(3), temperature=0.7), x)
