"""The trainer's speed options (precision, channels_last, compile) on the CPU: each trains a conv
recipe, and each changes only what it says it changes."""

import dataclasses
import math
import time

import pytest
import torch

from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.data import load_dataset
from genbench.models import build_for
from genbench.recipes import load_recipe
from genbench.training import fit
from tests.conftest import assert_edited_recipe_refused


def train(recipe_id: str, steps: int = 2, **options):
    recipe = load_recipe(recipe_id)
    data = load_dataset(recipe.dataset)
    torch.manual_seed(0)
    model = build_for(recipe.model, data, recipe.model_params)
    cfg = dataclasses.replace(recipe.train, steps=steps, batch_size=16, **options)
    info = fit(model, data, cfg, torch.Generator().manual_seed(0), progress=False)
    return model, info["final"]


@pytest.mark.parametrize("recipe_id", ["digits/dcgan", "digits/conv-vae"])
def test_bf16_changes_the_numbers_but_stays_finite(recipe_id):
    _, fp32 = train(recipe_id)
    _, bf16 = train(recipe_id, precision="bf16")
    assert all(math.isfinite(v) for v in bf16.values())
    assert bf16 != fp32  # autocast really ran the convolutions in bf16
    assert bf16["loss"] == pytest.approx(fp32["loss"], rel=0.1)


def test_bf16_autocast_reaches_the_model():
    seen = []
    model, _ = train("digits/dcgan", steps=1)
    model.D[0].register_forward_hook(lambda _m, _a, out: seen.append(out.dtype))
    recipe = load_recipe("digits/dcgan")
    data = load_dataset("digits")
    fit(model, data, dataclasses.replace(recipe.train, steps=1, batch_size=16, precision="bf16"),
        torch.Generator().manual_seed(0), progress=False)
    assert seen and set(seen) == {torch.bfloat16}


@pytest.mark.parametrize("recipe_id", ["digits/dcgan", "digits/conv-vae"])
def test_channels_last_gives_the_same_losses_in_the_other_layout(recipe_id):
    _, plain = train(recipe_id)
    model, nhwc = train(recipe_id, channels_last=True)
    assert nhwc == pytest.approx(plain, rel=1e-4, abs=1e-5)
    weights = [p for p in model.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert not all(p.is_contiguous() for p in weights)  # the layout did change


def test_channels_last_on_a_dataset_without_images_is_refused(cli, tmp_path):
    assert_edited_recipe_refused(cli, tmp_path, "ring8/gan", "[train]", "[train]\nchannels_last = true",
                                 "channels_last applies to image datasets", "ring8")


def test_an_unknown_precision_is_refused_with_the_closest(cli, tmp_path):
    assert_edited_recipe_refused(cli, tmp_path, "digits/dcgan", "[train]", '[train]\nprecision = "bf61"', "bf16")


@pytest.mark.slow
def test_compiled_children_train_and_keep_their_checkpoint_keys(tmp_path):
    started = time.perf_counter()
    model, compiled = train("digits/conv-vae", compile=True)
    _, eager = train("digits/conv-vae")
    assert compiled == pytest.approx(eager, rel=1e-3, abs=1e-4)
    save_checkpoint(model, tmp_path / "m.safetensors", {})
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert set(loaded.state_dict()) == set(model.state_dict())
    assert not any("_orig_mod" in k for k in model.state_dict())
    print(f"compile test: {time.perf_counter() - started:.0f} s")
