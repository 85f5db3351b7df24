"""Regularizers as recipe options: image augmentation (flips, shifts) in the trainer, batch norm in the
GAN generator. Dropout, weight decay and label smoothing are covered with their models."""

import pytest
import torch

from genbench.augment import hflip, shift
from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.models import build_model
from genbench.training import TrainConfig, fit
from tests.conftest import assert_one_line_error


def one_pixel_images(n=64, size=9):
    x = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    x[:, 0, 4, 2] = 7  # left of centre, so a flip is visible
    return x


def test_flip_mirrors_about_half_the_images_and_nothing_else():
    x = one_pixel_images(1000)
    y = hflip(x, torch.Generator().manual_seed(0))
    flipped = y[:, 0, 4, 6] == 7
    assert 400 < int(flipped.sum()) < 600
    assert torch.equal(y[flipped], x[flipped].flip(-1)) and torch.equal(y[~flipped], x[~flipped])


def test_shift_moves_each_image_by_at_most_the_budget_and_keeps_its_pixel():
    x = one_pixel_images(500)
    y = shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y.flatten(1).sum(1), x.flatten(1).sum(1))  # the pixel is never pushed off a 9x9 image
    pos = y[:, 0].flatten(1).argmax(1)
    dy, dx = pos // 9 - 4, pos % 9 - 2
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # every offset in [-2, 2] is reachable...
    assert len({(int(a), int(b)) for a, b in zip(dy, dx, strict=True)}) == 25  # ...and all 25 occur


def test_shift_of_multichannel_images_moves_channels_together():
    x = torch.rand(8, 3, 8, 8)
    y = shift(x, 1, torch.Generator().manual_seed(3))
    z = shift(x[:, :1], 1, torch.Generator().manual_seed(3))
    assert torch.equal(y[:, :1], z)


def test_trainer_augments_image_batches_and_refuses_points():
    ds = load_dataset("digits")
    model = build_model("vae", ds.shape, {"latent": 2, "hidden": 16})
    cfg = TrainConfig(steps=3, batch_size=32, augment_flip=True, augment_shift=1)
    assert fit(model, ds, cfg, torch.Generator().manual_seed(0), progress=False)["steps"] == 3
    with pytest.raises(GenbenchError, match="image datasets"):
        fit(build_model("vae", (2,), {}), load_dataset("ring8"), cfg, torch.Generator().manual_seed(0), progress=False)


def test_augmented_training_is_deterministic():
    ds = load_dataset("digits")
    cfg = TrainConfig(steps=4, batch_size=32, augment_flip=True, augment_shift=1)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("vae", ds.shape, {"latent": 2, "hidden": 16})
        fit(model, ds, cfg, torch.Generator().manual_seed(0), progress=False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_gan_generator_batch_norm_trains_and_samples_from_running_statistics():
    torch.manual_seed(0)
    model = build_model("gan", (2,), {"hidden": 32, "batch_norm": True})
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.G)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.D)
    fit(model, load_dataset("ring8"), TrainConfig(steps=20, batch_size=64, lr=1e-3), torch.Generator().manual_seed(0),
        progress=False)
    bn = next(m for m in model.G if isinstance(m, torch.nn.BatchNorm1d))
    assert int(bn.num_batches_tracked) > 0 and not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    one = model.sample(1, torch.Generator().manual_seed(1))  # eval mode: a single sample is fine
    many = model.sample(10, torch.Generator().manual_seed(1))
    assert torch.allclose(one[0], many[0], atol=1e-6)  # a sample does not depend on its batch-mates


@pytest.mark.parametrize("train, needle", [
    ("augment_flip = true", "apply to image datasets; 'ring8' is points"),
    ("augment_shift = -1", "'augment_shift' must be int >= 0, got -1"),
])
def test_bad_augmentation_in_a_recipe_is_one_line_and_writes_nothing(cli, tmp_path, train, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'version = 1\ndataset = "ring8"\n[model]\nname = "vae"\n[train]\nsteps = 2\n{train}\n')
    code, _, err = cli("train", bad, "--runs", tmp_path / "runs", "--quiet")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "runs").exists()
