"""The convolutional image families (U-Net DDPM with DDIM, conv VAE): what each paper promises,
checked on small instances."""

import math

import pytest
import torch

from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.models import build_model
from genbench.training import TrainConfig, fit

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


@pytest.fixture(autouse=True)
def _fixed_init():
    torch.manual_seed(0)  # weights are initialised from the global RNG: fix it, whatever ran before


def perturbed(model, scale=0.05):
    """Leave the zero-initialised (identity) start, so that what a test checks is not trivially true."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# --- U-Net DDPM ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("scales", [1, 2])
def test_unet_keeps_the_image_shape(shape, scales):
    model = perturbed(build_model("unet-ddpm", shape, {"channels": 8, "scales": scales, "timesteps": 10,
                                                        "sample_steps": 2}))
    x = torch.randn(3, *shape)
    assert model.eps_theta(x, torch.tensor([0, 4, 9])).shape == x.shape
    samples = model.sample(3, torch.Generator().manual_seed(0))
    assert samples.shape == (3, *shape) and torch.isfinite(samples).all()


def test_ddim_with_eta_zero_is_deterministic_given_the_noise():
    model = perturbed(build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1, "sample_steps": 20}))
    g = torch.Generator().manual_seed(3)
    x_T = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    after_x_T = torch.Generator().manual_seed(3)
    torch.randn(4, 1, 8, 8, generator=after_x_T)
    samples = model.sample(4, g)
    assert torch.equal(g.get_state(), after_x_T.get_state())  # only x_T was drawn: no noise on the way
    assert torch.equal(samples, model.denoise(x_T.clone(), g))  # the same x_T gives the same images
    other = model.denoise(torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(4)), g)
    assert (other - samples).abs().max() > 1e-3  # ... and they do depend on x_T


def test_ddim_timesteps_span_the_chain():
    model = build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1, "sample_steps": 1000})
    assert model.timesteps() == list(range(999, -1, -1))
    model = build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1, "sample_steps": 50})
    tau = model.timesteps()
    assert len(tau) == 50 and tau[0] == 999 and tau[-1] == 0 and tau == sorted(tau, reverse=True)


def test_ddim_full_schedule_with_eta_one_is_the_ddpm_posterior():
    """With s = t - 1 for every t (the 1000-step schedule) and eta = 1, the DDIM update's mean is
    DDPM's ancestral mean (Ho et al. eq. 11, Algorithm 2) and its variance is the posterior
    variance beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t); with eta = 0 its variance is zero."""
    model = build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1, "timesteps": 1000, "clip_denoised": False})
    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
    b, abar = model.betas.double(), model.abar.double()
    for t in range(1, 1000):
        mean, sigma = model.ddim_step(x, t, t - 1, eps, eta=1.0)
        ho = (x - b[t] / (1 - abar[t]).sqrt() * eps) / (1 - b[t]).sqrt()
        torch.testing.assert_close(mean, ho.float(), atol=2e-4, rtol=1e-4)
        # Two routes to one mean; the float32 schedule's rounding (abar_t vs abar_{t-1} alpha_t) is
        # amplified by 1 / (1 - abar_t) at small t, hence Ho's tolerance.
        torch.testing.assert_close(mean, model.ancestral_mean(x, t, eps), atol=3e-4, rtol=1e-4)
        beta_tilde = b[t] * (1 - abar[t - 1]) / (1 - abar[t])
        assert sigma.item() ** 2 == pytest.approx(beta_tilde.item(), rel=1e-3)
        assert model.ddim_step(x, t, t - 1, eps, eta=0.0)[1].item() == 0.0


def test_ddpm_sampler_takes_every_timestep_and_draws_fresh_noise():
    with pytest.raises(GenbenchError, match="sample_steps must be 100"):
        build_model("unet-ddpm", (1, 8, 8), {"timesteps": 100, "sampler": "ddpm", "sample_steps": 20})
    model = perturbed(build_model("unet-ddpm", (1, 8, 8), {"channels": 8, "scales": 1, "timesteps": 20,
                                                            "sampler": "ddpm", "sample_steps": 20}))
    a = model.sample(3, torch.Generator().manual_seed(0))
    b = model.sample(3, torch.Generator().manual_seed(0))
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model.sampler = "ddim"  # the same network, its deterministic sampler over the same 20 steps
    assert torch.equal(a, b) and (a - model.denoise(x_T, torch.Generator())).abs().max() > 1e-3  # ancestral != DDIM


def test_unet_ddpm_learns_digits(digits):
    model = build_model("unet-ddpm", digits.shape, {"channels": 16, "scales": 1})
    g = torch.Generator().manual_seed(0)
    model.configure_training(TrainConfig(lr=2e-3))
    x = digits.continuous(digits.train, g)
    losses = [model.train_step(x[torch.randint(0, len(x), (64,), generator=g)], g)["loss"] for _ in range(80)]
    assert sum(losses[-20:]) / 20 < 0.6 * sum(losses[:5]) / 5, (losses[:3], losses[-3:])


# --- conv VAE -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("scales", [1, 2, 3])
def test_conv_vae_shapes(shape, scales):
    model = perturbed(build_model("conv-vae", shape, {"channels": 8, "scales": scales, "latent": 3}))
    x = torch.rand(2, *shape)
    assert model.decoder(model.encode(x)[0]).shape == x.shape
    assert model.sample(2, torch.Generator().manual_seed(0)).shape == (2, *shape)
    assert model.log_prob(x).shape == (2,)


def test_conv_vae_iwae_bound_lies_between_the_elbo_and_the_exact_likelihood(digits):
    """With one latent dimension log p(x) = log int p(x|z) N(z; 0, 1) dz is a quadrature. On
    average over images the ELBO < IWAE (k = 10) < IWAE (k = 100) <= log p(x), and IWAE (k = 3000)
    closes most of the gap to log p(x), image by image (Burda et al.: the bound tightens to log p as k grows)."""
    model = build_model("conv-vae", digits.shape, {"latent": 1, "channels": 8})
    fit(model, digits, TrainConfig(steps=150, batch_size=64, lr=3e-3), torch.Generator().manual_seed(0), progress=False)
    model.eval()
    x = digits.reference()[:20]
    h = 1e-3
    z = (torch.arange(-8, 8, h) + h / 2)[:, None]
    with torch.no_grad():
        log_pxz = torch.stack([model.log_px_given_z(xi.expand(len(z), -1, -1, -1), z) for xi in x])
        exact = torch.logsumexp(log_pxz - 0.5 * z.T ** 2 - 0.5 * math.log(2 * math.pi), 1) + math.log(h)
        elbo = torch.stack([model.elbo(x, torch.Generator().manual_seed(s)) for s in range(200)]).mean(0)
        iwae = {k: torch.stack([model.iwae(x, k, torch.Generator().manual_seed(s)) for s in range(5)]).mean(0)
                for k in (10, 100)}
        iwae_3000 = model.iwae(x, 3000, torch.Generator().manual_seed(0))
    assert elbo.mean() < iwae[10].mean() - 0.05 < iwae[100].mean() - 0.1
    assert iwae[100].mean() <= exact.mean() + 0.02
    assert (exact - elbo).mean() > 0.3  # a gap worth closing ...
    # ... that closes: image by image, to within a fifth of that image's ELBO gap (+ noise)
    assert ((iwae_3000 - exact).abs() <= 0.05 + 0.2 * (exact - elbo).clamp(min=0)).all()
    assert (iwae_3000 - exact).mean().abs() < 0.05
    assert model.log_prob(x).mean() == pytest.approx(iwae[100].mean().item(), abs=0.1)  # log_prob is IWAE k=100


# --- both ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, hp", [
    ("unet-ddpm", {"channels": 8, "scales": 1, "timesteps": 50, "sample_steps": 5}),
    ("conv-vae", {"channels": 8, "latent": 4}),
])
def test_checkpoints_round_trip(tmp_path, name, hp):
    model = perturbed(build_model(name, (1, 8, 8), hp))
    save_checkpoint(model, tmp_path / "m.safetensors", {})
    loaded, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config["model"] == name and config["hparams"] == {**model.hparams}
    a = model.sample(6, torch.Generator().manual_seed(1))
    assert torch.equal(a, loaded.sample(6, torch.Generator().manual_seed(1)))
    if model.has_log_prob:
        x = torch.rand(4, 1, 8, 8)
        assert torch.equal(model.log_prob(x), loaded.log_prob(x))


@pytest.mark.parametrize("name, hp, needle", [
    ("unet-ddpm", {"channels": 12}, "multiple of 8"),
    ("unet-ddpm", {"sample_steps": -1}, "'sample_steps' must be int >= 0"),
    ("unet-ddpm", {"timesteps": 10, "sample_steps": 11}, "sample_steps must be at most timesteps=10"),
    ("conv-vae", {"scales": 0}, "'scales' must be int >= 1"),
    ("unet-ddpm", {"scales": -1}, "'scales' must be int >= 0"),
])
def test_hyper_parameters_that_do_not_fit_are_refused(name, hp, needle):
    with pytest.raises(GenbenchError, match=needle):
        build_model(name, (1, 8, 8), hp)
    with pytest.raises(GenbenchError, match="needs images"):
        build_model(name, (64,), {})
