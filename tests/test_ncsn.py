"""NCSN (Song & Ermon 2019): the denoising score matching loss, annealed Langevin dynamics, the
recipes' samples on the data, and bad sampler options refused."""

import math

import pytest
import torch

from genbench import seeds
from genbench.data import load_dataset
from genbench.env import seed_everything
from genbench.models import build_for, build_model
from genbench.models.ncsn import NCSN
from genbench.recipes import load_recipe
from genbench.scoring import evaluate
from genbench.training import fit
from tests.test_validation import assert_train_refused


class GaussianScore(NCSN):
    """The exact score of N(0, s0^2 I) perturbed by sigma: s(x, sigma) = -x / (s0^2 + sigma^2)."""

    def __init__(self, s0: float, **kw):
        super().__init__((2,), images=False, **kw)
        self.s0 = s0

    def f_theta(self, x, i):
        sigma = self.sigmas[i].reshape(-1, 1)
        return -sigma * x / (self.s0 ** 2 + sigma ** 2)


LADDER = dict(sigma_begin=1.0, sigma_end=0.01, noise_levels=10, steps_each=100, step_lr=2e-5, denoise=False)


def test_the_ladder_is_geometric_from_sigma_begin_to_sigma_end():
    sigmas = GaussianScore(1.0, **LADDER).sigmas
    assert sigmas[0].item() == pytest.approx(1.0) and sigmas[-1].item() == pytest.approx(0.01)
    ratios = sigmas[1:] / sigmas[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 0.01 ** (1 / 9)))


def test_annealed_langevin_with_the_exact_score_samples_the_data():
    """Algorithm 1 with the true score of N(0, 0.3^2 I) ends at that distribution (plus sigma_L's
    noise); the paper's step, x + alpha/2 s + sqrt(alpha) z, is what keeps the variance right: with
    noise sqrt(2 alpha) instead, the std would be 0.42."""
    model = GaussianScore(0.3, **LADDER)
    x = model.sample(20000, torch.Generator().manual_seed(0))
    assert x.mean(0).abs().max() < 0.02
    assert x.std(0).tolist() == pytest.approx([math.hypot(0.3, 0.01)] * 2, rel=0.05)


def test_the_loss_is_denoising_score_matching_weighted_by_sigma_squared():
    """l = 1/2 || sigma s(x + sigma eps, sigma) + eps ||^2, one level per example: with the exact
    score of N(0, s0^2) the expectation is (d/2) E_sigma[s0^2 / (s0^2 + sigma^2)] (the part of eps
    that even the exact score cannot tell apart from the data: all of it as sigma -> 0), and a score that is zero gives d/2."""
    s0, ladder = 1.0, {**LADDER, "noise_levels": 2}  # sigmas 1 and 0.01
    exact = GaussianScore(s0, **ladder)
    x = s0 * torch.randn(100000, 2, generator=torch.Generator().manual_seed(1))
    loss = exact.loss(x, torch.Generator().manual_seed(2)).item()
    expected = 0.5 * 2 * (0.5 * 1 / (1 + 1) + 0.5 * 1 / (1 + 0.01 ** 2))
    assert loss == pytest.approx(expected, rel=0.03)

    class Zero(GaussianScore):
        def f_theta(self, x, i):
            return torch.zeros_like(x)

    assert Zero(s0, **ladder).loss(x, torch.Generator().manual_seed(2)).item() == pytest.approx(1.0, rel=0.02)


def test_the_image_path_samples_in_the_data_range_and_repeats_with_the_generator():
    model = build_model("unet-ncsn", (1, 8, 8), {"channels": 8, "scales": 1, "noise_levels": 3, "steps_each": 2})
    model.eval()
    a, b = (model.sample(4, torch.Generator().manual_seed(5)) for _ in range(2))
    assert a.shape == (4, 1, 8, 8) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, model.sample(4, torch.Generator().manual_seed(6)))


def test_denoise_takes_one_tweedie_step_at_sigma_L():
    plain, denoised = GaussianScore(0.3, **{**LADDER, "steps_each": 5}), GaussianScore(0.3, **{**LADDER, "steps_each": 5, "denoise": True})
    a, b = plain.sample(1000, torch.Generator().manual_seed(0)), denoised.sample(1000, torch.Generator().manual_seed(0))
    last = torch.full((1000,), 9)
    torch.testing.assert_close(b, a + 0.01 ** 2 * plain.score(a, last))


@pytest.mark.slow
@pytest.mark.parametrize("recipe_id, modes", [("ring8/ncsn", 8), ("grid25/ncsn", 25)])
def test_the_toy_recipes_sample_on_the_modes(recipe_id, modes):
    """Trained by its recipe (seed 0) and sampled by annealed Langevin from a uniform box, NCSN covers
    every mode with most samples within 3 std of one (uniform noise on the box puts almost none there)."""
    recipe = load_recipe(recipe_id)
    data = load_dataset(recipe.dataset, recipe.dataset_params)
    # Seeded as a run seeds (every global RNG too): the initial weights are drawn from torch's global
    # generator, whose state would otherwise be whatever the tests before this one left.
    generator = seed_everything(seeds.training(0), torch.device("cpu"))
    model = build_for(recipe.model, data, recipe.model_params)
    fit(model, data, recipe.train, generator, progress=False)
    model.eval()
    scoring = torch.Generator().manual_seed(seeds.scoring(0))  # the run's scoring stream: its record's samples
    m = evaluate(data, ["coverage"], model=model, generator=scoring, progress=False)["metrics"]
    assert m["modes"] == modes and m["hq_fraction"] > 0.6, m


@pytest.mark.parametrize("model, params, needle", [
    ("ncsn", "sigma_begin = 0.01\nsigma_end = 1.0", "sigma_end must be below sigma_begin=0.01, got 1.0"),
    ("ncsn", "steps_each = 0", "'steps_each' must be int >= 1, got 0"),
    ("ncsn", "step_lr = 0.0", "'step_lr' must be finite float > 0, got 0.0"),
    ("ncsn", "noise_levels = 1", "noise_levels must be at least 2"),
    ("unet-ncsn", "sigma_end = -0.1", "'sigma_end' must be finite float > 0, got -0.1"),
])
def test_bad_sampler_options_are_refused(cli, tmp_path, model, params, needle):
    dataset = '"digits"' if model == "unet-ncsn" else '"ring8"'
    assert_train_refused(cli, tmp_path, needle, dataset=dataset, model=model, model_params=params)
