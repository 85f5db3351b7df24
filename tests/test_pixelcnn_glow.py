"""The convolutional likelihood families, PixelCNN and Glow: what each paper promises, on small instances."""

import itertools
import math

import pytest
import torch

from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.metrics import METRICS
from genbench.models import build_model
from genbench.training import TrainConfig, fit
from tests.conftest import assert_one_line_error


@pytest.fixture(autouse=True)
def _fixed_init():
    torch.manual_seed(0)  # weights are initialised from the global RNG: fix it, whatever ran before


def perturbed(model, scale):
    """Move every weight off its initial value (zero-initialised layers would hide bugs)."""
    for p in model.parameters():
        p.data += scale * torch.randn_like(p)
    return model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# --- PixelCNN ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 6, 6), (3, 5, 5)])
def test_pixelcnn_output_at_a_pixel_sees_exactly_the_pixels_before_it(shape):
    """Raster order, then colour: logits of (c, i, j) depend on every earlier (pixel, colour) and
    on nothing at or after it. The check covers every output, so a blind spot fails it too."""
    model = build_model("pixelcnn", shape, {"levels": 4, "hidden": 24, "layers": 3})
    C, H, W = shape
    n = 8  # several inputs, so that a ReLU that happens to be off at one cannot hide a path
    J = torch.autograd.functional.jacobian(lambda v: model.network(v).sum(1), torch.randn(n, *shape))
    J = sum(J[b, :, :, :, b].abs() for b in range(n))  # (C, H, W) outputs x (C, H, W) inputs
    for c, i, j in itertools.product(range(C), range(H), range(W)):
        for c2, i2, j2 in itertools.product(range(C), range(H), range(W)):
            before = (i2, j2, c2) < (i, j, c)
            uses = J[c, i, j, c2, i2, j2] != 0
            assert uses == before, f"output {(c, i, j)} {'ignores' if before else 'depends on'} input {(c2, i2, j2)}"


@pytest.mark.parametrize("shape", [(1, 2, 2), (2, 1, 2)])
def test_pixelcnn_probabilities_of_all_images_sum_to_one(shape):
    levels = 3
    model = perturbed(build_model("pixelcnn", shape, {"levels": levels, "hidden": 8, "layers": 2}), 0.3)
    images = torch.tensor(list(itertools.product(range(levels), repeat=4))).float().reshape(-1, *shape)
    with torch.no_grad():
        density = model.log_prob((images + 0.5) / levels).exp()  # constant over each cell of side 1/L
        inside = model.log_prob((images + torch.rand(images.shape)) / levels).exp()
    torch.testing.assert_close(inside, density)
    assert density.sum().item() / levels ** 4 == pytest.approx(1.0, abs=1e-5)


def test_pixelcnn_sampler_draws_what_the_full_network_draws():
    """sample() reuses finished rows and a window of columns; a full pass per (pixel, colour) with
    the same generator must give the same images."""
    shape, L, n = (3, 5, 4), 5, 50
    model = perturbed(build_model("pixelcnn", shape, {"levels": L, "hidden": 6, "layers": 3}), 0.3)
    fast = model.sample(n, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    inp, drawn = torch.zeros(n, *shape), torch.zeros(n, *shape, dtype=torch.long)
    with torch.no_grad():
        for i, j, c in itertools.product(range(shape[1]), range(shape[2]), range(shape[0])):
            probs = model.network(inp)[:, :, c, i, j].softmax(1)
            drawn[:, c, i, j] = torch.multinomial(probs, 1, generator=g).squeeze(1)
            inp[:, c, i, j] = model.scaled(drawn[:, c, i, j])
    assert torch.equal(fast, (drawn + 0.5) / L)


def test_pixelcnn_learns_digits_below_a_uniform_model(digits):
    model = build_model("pixelcnn", digits.shape, {"levels": digits.levels, "hidden": 16, "layers": 2})
    fit(model, digits, TrainConfig(steps=40, batch_size=64, lr=3e-3), torch.Generator().manual_seed(0), progress=False)
    bpd = METRICS.get("nll")().compute(None, digits, model)["bpd"]
    assert bpd < math.log2(digits.levels) - 1.0  # uniform: log2(17) = 4.09 bits/dim


def test_pixelcnn_takes_its_levels_from_the_dataset_and_refuses_continuous_data(cli, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('version = 1\ndataset = "ring8"\n[model]\nname = "pixelcnn"\n')
    code, _, err = cli("train", recipe, "--runs", tmp_path / "runs", "--quiet")
    assert_one_line_error(code, err, "needs a dataset with grey levels", "'ring8' has none")
    assert not (tmp_path / "runs").exists()
    recipe.write_text('version = 1\ndataset = "digits"\n[model]\nname = "pixelcnn"\nlevels = 17\n')
    code, _, err = cli("train", recipe, "--runs", tmp_path / "runs", "--quiet")
    assert_one_line_error(code, err, "unknown model 'pixelcnn' parameter 'levels'")


# --- Glow -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, scales", [((1, 8, 8), 3), ((1, 28, 28), 2), ((3, 32, 32), 3)])
def test_glow_inverts_to_1e_4(shape, scales):
    model = perturbed(build_model("glow", shape, {"scales": scales, "steps": 2, "hidden": 16}), 0.05)
    model.initialize(torch.rand(64, *shape), torch.Generator().manual_seed(0))
    x = torch.rand(8, *shape)
    with torch.no_grad():
        z, _ = model.forward_flow(x)
        assert z.shape == (8, math.prod(shape))
        assert (model.inverse_flow(z) - x).abs().max().item() < 1e-4


def test_glow_log_det_matches_autograd_jacobian():
    shape = (1, 4, 4)  # two scales: squeeze, steps, factor-out, squeeze, steps
    model = perturbed(build_model("glow", shape, {"scales": 2, "steps": 2, "hidden": 8}), 0.1)
    x = torch.rand(3, *shape)
    _, log_det = model.forward_flow(x)
    for i in range(3):
        J = torch.autograd.functional.jacobian(lambda v: model.forward_flow(v[None])[0][0], x[i]).reshape(16, 16)
        assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(J)[1].item(), abs=1e-4)


def test_glow_density_integrates_to_one():
    """Over a 1 x 2 x 2 image: the midpoint rule on a grid over the flow's support, the cube that
    the logit preprocessing maps onto R^4 (it reaches alpha / (1 - 2 alpha) past [0, 1])."""
    model = perturbed(build_model("glow", (1, 2, 2), {"scales": 1, "steps": 2, "hidden": 8}), 0.05)
    a, n = model.alpha, 24
    lo, hi = -a / (1 - 2 * a), (1 - a) / (1 - 2 * a)
    h = (hi - lo) / n
    axis = lo + h * (torch.arange(n) + 0.5)
    grid = torch.cartesian_prod(axis, axis, axis, axis).reshape(-1, 1, 2, 2)
    with torch.no_grad():
        mass = model.log_prob(grid).double().exp().sum().item() * h ** 4
    assert mass == pytest.approx(1.0, abs=0.01)  # dropping the logit's log(1 - 2 alpha) alone gives 0.92


def test_glow_refuses_more_scales_than_the_image_halves():
    with pytest.raises(GenbenchError, match="28 x 28 image takes at most 2 scale"):
        build_model("glow", (1, 28, 28), {"scales": 3})


def test_glow_learns_digits_below_a_uniform_model(digits):
    model = build_model("glow", digits.shape, {"scales": 2, "steps": 2, "hidden": 32})
    fit(model, digits, TrainConfig(steps=40, batch_size=64, lr=3e-3), torch.Generator().manual_seed(0), progress=False)
    bpd = METRICS.get("nll")().compute(None, digits, model)["bpd"]
    assert bpd < math.log2(digits.levels) - 1.0


# --- both -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, hp", [("pixelcnn", {"levels": 17, "hidden": 8, "layers": 2}),
                                      ("glow", {"scales": 2, "steps": 2, "hidden": 8})])
def test_checkpoint_round_trip_gives_identical_samples_and_log_prob(tmp_path, name, hp):
    shape = (1, 8, 8)
    model = perturbed(build_model(name, shape, hp), 0.05)
    model.eval()
    save_checkpoint(model, tmp_path / "m.safetensors", {"dataset": "digits"})
    loaded, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config["hparams"].items() >= hp.items()
    x = torch.rand(20, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), rtol=0, atol=0)
    assert torch.equal(loaded.sample(10, torch.Generator().manual_seed(1)),
                       model.sample(10, torch.Generator().manual_seed(1)))
