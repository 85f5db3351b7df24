"""DCGAN (Radford et al. 2016): the GAN's losses and two-player step with convolutional players, and
PacGAN's packing along image channels."""

import math

import pytest
import torch

from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.models import build_model
from genbench.recipes import load_recipe, load_suite
from genbench.training import TrainConfig, fit
from tests.conftest import assert_edited_recipe_refused

SMALL = {"channels": 4, "latent": 8}


@pytest.fixture(autouse=True)
def _fixed_init():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)])
@pytest.mark.parametrize("loss, pack", [("nonsaturating", 1), ("wgan-gp", 3)])
def test_players_map_latents_to_images_and_packed_images_to_one_logit(shape, loss, pack):
    model = build_model("dcgan", shape, {**SMALL, "loss": loss, "pack": pack})
    x = model.sample(6, torch.Generator().manual_seed(0))
    assert x.shape == (6, *shape) and 0 <= x.min() and x.max() <= 1
    assert model.D[0].in_channels == shape[0] * pack
    assert model.D(model.packed(x)).shape == (6 // pack, 1)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.D) == (loss == "nonsaturating")


def test_pack_concatenates_consecutive_images_along_channels():
    model = build_model("dcgan", (3, 8, 8), {**SMALL, "pack": 2})
    x = torch.rand(5, 3, 8, 8)
    p = model.packed(x)
    assert p.shape == (2, 6, 8, 8)  # the fifth image, left over, is dropped
    assert torch.equal(p[0, :3], x[0]) and torch.equal(p[0, 3:], x[1]) and torch.equal(p[1, 3:], x[3])


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_a_pack_never_mixes_real_and_generated_images(loss):
    model = build_model("dcgan", (1, 8, 8), {**SMALL, "pack": 2, "loss": loss, "critic_steps": 2})
    model.configure_training(TrainConfig(lr=1e-3))
    seen = []
    model.D.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach()))
    real = torch.full((8, 1, 8, 8), 2.0)  # outside G's (0, 1): every real image is recognisable
    model.train_step(real, torch.Generator().manual_seed(0))
    per_image = [(x == 2.0).flatten(2).all(2) for x in seen if not x.requires_grad or loss == "nonsaturating"]
    assert per_image and all(((p == p[:, :1]).all()) for p in per_image)
    assert any(p.all() for p in per_image) and any((~p).all() for p in per_image)


def test_checkpoint_round_trips(tmp_path):
    model = build_model("dcgan", (1, 28, 28), {**SMALL, "pack": 2})
    model.configure_training(TrainConfig(lr=1e-3))
    model.train_step(torch.rand(8, 1, 28, 28), torch.Generator().manual_seed(0))  # move batch norm's statistics
    model.eval()
    save_checkpoint(model, tmp_path / "m.safetensors", {})
    loaded, config = load_checkpoint(tmp_path / "m.safetensors")
    assert config["model"] == "dcgan" and config["hparams"] == {**model.hparams}
    a = model.sample(6, torch.Generator().manual_seed(1))
    assert torch.equal(a, loaded.sample(6, torch.Generator().manual_seed(1)))


def test_a_few_steps_on_digits_teach_both_players():
    data = load_dataset("digits")
    model = build_model("dcgan", data.shape, {"channels": 8, "latent": 16})
    mean_image = data.train.float().mean(0) / (data.levels - 1)
    before = model.sample(500, torch.Generator().manual_seed(1))
    info = fit(model, data, TrainConfig(steps=60, batch_size=32, lr=2e-3, beta1=0.5), torch.Generator().manual_seed(0),
               progress=False)
    after = model.sample(500, torch.Generator().manual_seed(1))
    assert info["final"]["loss_d"] < math.log(4) - 0.3  # D tells real from generated better than chance
    # G moved its samples halfway (and more) towards the data's mean image.
    assert (after.mean(0) - mean_image).abs().mean() < 0.6 * (before.mean(0) - mean_image).abs().mean()


@pytest.mark.parametrize("shape, hp, needle", [
    ((1, 28, 28), {"scales": 3}, "the largest that fits is scales = 2"),
    ((1, 8, 8), {"pack": 0}, "'pack' must be int >= 1"),
    ((1, 8, 8), {"channels": 0}, "'channels' must be int >= 1"),
    ((64,), {}, "needs images"),
])
def test_settings_that_cannot_be_built_are_refused(shape, hp, needle):
    with pytest.raises(GenbenchError, match=needle):
        build_model("dcgan", shape, hp)


def test_a_recipe_that_cannot_be_built_is_one_line_and_writes_nothing(cli, tmp_path):
    assert_edited_recipe_refused(cli, tmp_path, "digits/dcgan", "scales = 2", "scales = 4",
                                 "8x8 images do not halve 4 times", "scales = 3")


def test_dcgan_recipes_join_the_conv_suite():
    recipes = load_suite("conv")[0]["recipes"]
    assert {"digits/dcgan", "fashion-mnist/dcgan"} <= set(recipes)
    assert load_recipe("fashion-mnist/dcgan").model == "dcgan"
