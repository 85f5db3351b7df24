"""Diffusion's samplers and trainer options: samples drawn from pure noise land on the data (the
defining property), x_0 is clipped to the images' range, the EMA forgets its initial weights, ILVR
keeps a reference's coarse content, and bad sampler options are refused before anything is written."""

import pytest
import torch

from genbench.data import load_dataset
from genbench.models import build_for, build_model
from genbench.models.ddpm import low_pass
from genbench.recipes import load_recipe
from genbench.scoring import evaluate
from genbench.training import EMA, TrainConfig, fit
from tests.test_validation import assert_train_refused


@pytest.fixture(autouse=True)
def _fixed_init():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def retuned(model, **sampling):
    """The same trained network under other sampler settings (they are read when sampling)."""
    for k, v in sampling.items():
        setattr(model, k, v)
    return model


@pytest.mark.slow
def test_grid25_ddpm_recipe_samples_land_on_the_modes_with_every_sampler():
    """Trained by its recipe (seed 0) and sampled from N(0, I) ancestrally over all 1000 steps and by
    DDIM in 50 and in 10 steps, the DDPM covers every one of grid25's 25 modes with most samples
    within 3 std of one (the committed v3 recipe covered 21 with 2 % there: it sampled noise)."""
    recipe = load_recipe("grid25/ddpm")
    data = load_dataset(recipe.dataset, recipe.dataset_params)
    model = build_for(recipe.model, data, recipe.model_params)
    fit(model, data, recipe.train, torch.Generator().manual_seed(0), progress=False)
    model.eval()
    for sampler, steps in (("ddpm", 1000), ("ddim", 50), ("ddim", 10)):
        retuned(model, sampler=sampler, sample_steps=steps)
        m = evaluate(data, ["coverage"], model=model, generator=torch.Generator().manual_seed(1), progress=False)["metrics"]
        assert m["modes"] == 25 and m["hq_fraction"] > 0.4, (sampler, steps, m)


def test_predicted_x0_is_clipped_to_the_image_range_only_when_asked():
    model = build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1})
    x, eps = torch.randn(4, 1, 8, 8), 3 * torch.randn(4, 1, 8, 8)
    clipped = model.predict_x0(x, 999, eps)
    assert clipped.abs().max() <= 1 and (clipped.abs() == 1).any()
    raw = retuned(model, clip_denoised=False).predict_x0(x, 999, eps)
    assert raw.abs().max() > 10  # 1 / sqrt(abar_T) ~ 150 multiplies eps's error: what clipping stops
    torch.testing.assert_close(clipped, raw.clamp(-1, 1))


def test_ema_warmup_forgets_the_initial_weights():
    """A fixed decay d keeps d^k of the initial weights after k updates; with the warm-up the decay
    after k updates is min(d, (1 + k) / (10 + k)) and the start is forgotten within a few steps."""
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    plain, warm = EMA(net, 0.999), EMA(net, 0.999, warmup=True)
    assert [warm.decay_at(k) for k in (1, 10, 100, 10_000)] == [2 / 11, 11 / 20, 101 / 110, 0.999]
    with torch.no_grad():
        net.weight.fill_(1.0)  # the weights move to 1 and stay there
    for k in range(1, 3001):
        plain.update(net, k)
        warm.update(net, k)
    assert plain.shadow["weight"].item() == pytest.approx(1 - 0.999 ** 3000, rel=1e-3)  # 5 % of the start left
    assert warm.shadow["weight"].item() > 0.999999


def test_ema_warmup_is_refused_without_an_ema(digits):
    with pytest.raises(Exception, match="ema_warmup ramps the decay"):
        TrainConfig(ema_warmup=True).check(digits)


def trained_digits_model(digits, steps=300):
    model = build_for("unet-ddpm", digits, {"channels": 16, "scales": 1, "sample_steps": 20})
    cfg = TrainConfig(steps=steps, batch_size=64, lr=2e-3, schedule="cosine", warmup_steps=20, ema=0.99,
                      ema_warmup=True)
    fit(model, digits, cfg, torch.Generator().manual_seed(0), progress=False)
    return model.eval()


def test_ilvr_keeps_less_of_the_reference_the_more_it_downsamples(digits):
    """ILVR (Choi et al. 2021) replaces each step's low-pass content phi_N(x) by the noised
    reference's: the samples share the reference's content at scale N, so the larger N, the further
    they are from it at a finer scale; unguided samples are furthest."""
    model = trained_digits_model(digits)
    y = digits.continuous(digits.test[:1], torch.Generator().manual_seed(0)).expand(16, -1, -1, -1)

    def distance(x):
        return (low_pass(x, 2) - low_pass(y, 2)).pow(2).flatten(1).sum(1).mean().item()

    guided = {n: distance(model.sample(16, torch.Generator().manual_seed(1), reference=y, ilvr_factor=n))
              for n in (1, 2, 4, 8)}
    free = distance(model.sample(16, torch.Generator().manual_seed(1)))
    assert guided[1] < guided[2] < guided[4] < guided[8] < free, (guided, free)
    assert guided[1] < 1e-2 * free  # N = 1 keeps all of it


def test_ilvr_reference_is_checked(digits):
    model = build_for("unet-ddpm", digits, {"channels": 8, "scales": 1, "sample_steps": 2})
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="reference must be images of shape"):
        model.sample(2, g, reference=torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="ilvr_factor must be an integer in"):
        model.sample(2, g, reference=torch.zeros(1, 1, 8, 8), ilvr_factor=9)
    points = build_model("ddpm", (2,), {"timesteps": 10})
    with pytest.raises(ValueError, match="not images"):
        points.sample(2, g, reference=torch.zeros(1, 2))


def test_ddim_with_eta_draws_noise_and_eta_zero_draws_none(digits):
    model = build_for("unet-ddpm", digits, {"channels": 8, "scales": 1, "sample_steps": 5})
    x_T = torch.randn(3, *digits.shape)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    model.denoise(x_T.clone(), g)
    assert torch.equal(g.get_state(), state)
    retuned(model, eta=1.0)
    a = model.denoise(x_T.clone(), torch.Generator().manual_seed(0))
    b = model.denoise(x_T.clone(), torch.Generator().manual_seed(1))
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("model, params, needle", [
    ("unet-ddpm", "eta = -0.5", "'eta' must be finite float in [0, 1], got -0.5"),
    ("unet-ddpm", "eta = 1.5", "'eta' must be finite float in [0, 1], got 1.5"),
    ("unet-ddpm", "timesteps = 100\nsample_steps = 200", "sample_steps must be at most timesteps=100, got 200"),
    ("unet-ddpm", 'sampler = "ddpm"\nsample_steps = 20', "sampler 'ddpm' takes all timesteps"),
    ("unet-ddpm", 'sampler = "ddpm"\nsample_steps = 0\neta = 0.5', "eta is the 'ddim' sampler's"),
    ("unet-ddpm", "sample_steps = -1", "'sample_steps' must be int >= 0, got -1"),
    ("ddpm", "clip_denoised = true", "clip_denoised clips the predicted x_0 to the images' range"),
])
def test_bad_sampler_options_are_refused(cli, tmp_path, model, params, needle):
    dataset = '"digits"' if model == "unet-ddpm" else '"ring8"'
    assert_train_refused(cli, tmp_path, needle, dataset=dataset, model=model, model_params=params)


def test_ema_warmup_without_ema_is_refused_by_the_cli(cli, tmp_path):
    assert_train_refused(cli, tmp_path, "ema_warmup ramps the decay", model="vae", train_params="ema_warmup = true")


def test_skip_starts_the_mlp_at_the_least_squares_estimate_of_eps():
    """With the residual MLP at zero, eps_theta(x_t, t) is the regression of eps on x_t for data of
    std 0.5: on such data it fits eps as well as any linear map of x_t, and near t = T it is ~ x_t."""
    model = build_model("ddpm", (16,), {"skip": True, "images": True, "hidden": 8, "layers": 1})
    torch.nn.init.zeros_(model.eps_net[-1].weight), torch.nn.init.zeros_(model.eps_net[-1].bias)
    g = torch.Generator().manual_seed(0)
    x0, eps = 0.5 * torch.randn(20000, 16, generator=g), torch.randn(20000, 16, generator=g)
    for t in (0, 100, 500, 999):
        abar = model.abar[t]
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        with torch.no_grad():
            pred = model.eps_theta(x_t, torch.full((len(x_t),), t))
        best = (x_t * eps).sum() / (x_t * x_t).sum()  # the least-squares coefficient, measured
        c = (pred * x_t).sum() / (x_t * x_t).sum()
        assert torch.allclose(pred, c * x_t, atol=1e-5) and abs(c - best) < 0.01  # sampling error ~0.004
    assert torch.allclose(pred, x_t, rtol=0.01)  # t = T - 1: almost all noise
    plain = build_model("ddpm", (16,), {"images": True, "hidden": 8, "layers": 1})
    torch.nn.init.zeros_(plain.eps_net[-1].weight), torch.nn.init.zeros_(plain.eps_net[-1].bias)
    assert plain.eps_theta(x_t, torch.full((len(x_t),), 999)).abs().max() == 0


def test_gaussian_skip_is_the_least_squares_estimate_of_eps_for_the_datas_covariance():
    """skip = "gaussian": with the residual MLP at zero, eps_theta is the best linear (affine) map of x_t
    for the training data's mean and covariance, measured by least squares; where a pixel never varies it
    recovers eps exactly, which the isotropic skip, blind to the data, cannot."""
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(8, 8, generator=g)
    varying = torch.sigmoid(torch.randn(20000, 8, generator=g) @ mix / 3)  # correlated pixels in (0, 1)
    data = torch.cat([torch.zeros(20000, 8), varying], dim=1)  # 8 pixels always black
    models = {}
    for skip in ("gaussian", "isotropic"):
        models[skip] = build_model("ddpm", (16,), {"skip": skip, "images": True, "hidden": 8, "layers": 1})
        torch.nn.init.zeros_(models[skip].eps_net[-1].weight), torch.nn.init.zeros_(models[skip].eps_net[-1].bias)
        models[skip].initialize(data, g)
    x0, eps = 2 * data - 1, torch.randn(20000, 16, generator=g)
    for t in (0, 50, 500):
        abar = models["gaussian"].abar[t]
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        with torch.no_grad():
            pred = {k: m.eps_theta(x_t, torch.full((len(x_t),), t)) for k, m in models.items()}
        design = torch.cat([x_t, torch.ones(len(x_t), 1)], dim=1).double()
        best = design @ torch.linalg.lstsq(design, eps.double()).solution  # the affine least-squares fit
        mse = {k: (p.double() - eps).pow(2).mean().item() for k, p in pred.items()}
        assert mse["gaussian"] < (best - eps).pow(2).mean().item() * 1.01 + 1e-6
        assert torch.allclose(pred["gaussian"][:, :8], eps[:, :8], atol=1e-3)  # the constant pixels: exact
        assert mse["isotropic"] > 1.5 * mse["gaussian"]


def test_older_checkpoints_skip_true_still_mean_the_isotropic_skip():
    old = build_model("ddpm", (16,), {"skip": True, "images": True, "hidden": 8, "layers": 1})
    assert old.skip == "isotropic" and "data_basis" not in old.state_dict()
