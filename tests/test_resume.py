"""Killing training mid-run and resuming from the last checkpoint gives the same final result."""

import json

import pytest

import genbench.training
from genbench.recipes import load_recipe
from genbench.runs import run_recipe

RECIPE = """
version = 1
dataset = "{dataset}"
[model]
name = "{model}"
hidden = 32
[train]
steps = 60
batch_size = 128
lr = 2e-3
ema = 0.9
ema_warmup = true  # its decay depends on the step: a resumed run must pick it up where it left
checkpoint_every = 20
[score]
metrics = ["{metric}"]
"""


@pytest.mark.parametrize("model, dataset, metric", [
    ("realnvp", "ring8", "coverage"), ("gan", "ring8", "coverage"),
    ("glow", "digits", "nll"),  # its actnorm starts from data: a resumed run must not differ for it
])
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch, model, dataset, metric):
    path = tmp_path / "r.toml"
    path.write_text(RECIPE.format(model=model, dataset=dataset, metric=metric))
    recipe = load_recipe(path)
    clean = run_recipe(recipe, 0, runs=tmp_path / "clean", device="cpu", progress=False)

    real_step = genbench.training.EMA.update
    calls = []

    def crash_at_45(self, m, updates):
        calls.append(1)
        if len(calls) == 45:
            raise KeyboardInterrupt
        return real_step(self, m, updates)

    monkeypatch.setattr(genbench.training.EMA, "update", crash_at_45)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe, 0, runs=tmp_path / "crash", device="cpu", progress=False)
    run = tmp_path / "crash" / recipe.id / "seed0"
    assert json.loads((run / "train_state.json").read_text())["step"] == 40
    assert not (run / "record.json").exists()

    monkeypatch.setattr(genbench.training.EMA, "update", real_step)
    resumed = run_recipe(recipe, 0, runs=tmp_path / "crash", device="cpu", progress=False)
    assert resumed["train"]["resumed_from"] == 40
    assert resumed["metrics"] == clean["metrics"]
    clean_weights = (tmp_path / "clean" / recipe.id / "seed0" / "model.safetensors").read_bytes()
    assert (run / "model.safetensors").read_bytes() == clean_weights
    assert not (run / "train_state.json").exists()  # finished: nothing left to resume
