"""Learning curves (genbench.curve): a recipe's metrics every `[score] curve_every` steps, kept in
the run record, the same whether the run was cut off and resumed or trained seed-batched, and
never changing the training it watches."""

import json

import pytest

import genbench.seed_batch
import genbench.training
from genbench.recipes import load_recipe
from genbench.runs import run_dir, run_recipe, run_seeds
from tests.conftest import assert_one_line_error

RECIPE = """
version = 1
dataset = {{name = "grid25", n_train = 2000}}
seeds = [0, 1]
[model]
name = "gan"
pack = 2
latent = 2
hidden = 32
layers = 2
batch_norm = true
g_activation = "relu"
discriminator = "maxout"
d_hidden = 16
d_layers = 2
init_std = 0.02
update = "simultaneous"
fake_draws = "per_slot"
real_packs = "resampled"
g_bias = false
bn_momentum = 0.05
[train]
steps = 60
batch_size = 50
lr = 0.005
beta1 = 0.8
{ema}
checkpoint_every = 20
[score]
metrics = ["coverage"]
n_samples = 500
{curve}
"""


def recipe(tmp_path, curve="curve_every = 10", ema=""):
    path = tmp_path / "r.toml"
    path.write_text(RECIPE.format(curve=curve, ema=ema))
    return load_recipe(path)


def test_the_record_keeps_the_metrics_every_k_steps_and_the_last_point_is_the_final_score(tmp_path):
    r = recipe(tmp_path)
    record = run_recipe(r, 0, runs=tmp_path / "runs", device="cpu", progress=False)
    curve = record["curve"]
    assert curve["every"] == 10 and curve["steps"] == [10, 20, 30, 40, 50, 60]
    assert set(curve["metrics"]) == set(record["metrics"])
    for key, values in curve["metrics"].items():
        assert len(values) == 6
        assert values[-1] == record["metrics"][key]  # the same weights, the same scoring stream
    # The point at step 20 is the score of the same run stopped at 20 steps (a constant learning rate).
    short = tmp_path / "short.toml"
    short.write_text(RECIPE.format(curve="", ema="").replace("steps = 60", "steps = 20"))
    stopped = run_recipe(load_recipe(short), 0, runs=tmp_path / "short", device="cpu", progress=False)
    assert {k: v[1] for k, v in curve["metrics"].items()} == stopped["metrics"]
    assert not (run_dir(tmp_path / "runs", r, 0) / "curve.json").exists()  # the record holds it now


def test_scoring_along_the_way_does_not_change_the_training(tmp_path):
    with_curve = run_recipe(recipe(tmp_path, ema="ema = 0.9"), 0, runs=tmp_path / "a", device="cpu", progress=False)
    without = run_recipe(recipe(tmp_path, curve="", ema="ema = 0.9"), 0, runs=tmp_path / "b", device="cpu",
                         progress=False)
    assert "curve" not in without
    assert with_curve["metrics"] == without["metrics"]
    a = (run_dir(tmp_path / "a", recipe(tmp_path, ema="ema = 0.9"), 0) / "model.safetensors").read_bytes()
    b = (run_dir(tmp_path / "b", recipe(tmp_path, curve="", ema="ema = 0.9"), 0) / "model.safetensors").read_bytes()
    assert a == b


@pytest.mark.parametrize("batched", [False, True])
def test_a_run_cut_off_and_resumed_gives_the_same_curve_bit_for_bit(tmp_path, monkeypatch, batched):
    r = recipe(tmp_path, ema="ema = 0.9")

    def train(runs):
        if batched:
            return run_seeds(r, [0, 1], runs=runs, device="cpu", progress=False)
        return {0: run_recipe(r, 0, runs=runs, device="cpu", progress=False)}

    clean = train(tmp_path / "clean")
    target = (genbench.seed_batch.SeedStack, "step") if batched else (genbench.training.EMA, "update")
    real, calls = getattr(*target), []

    def crash_at_45(*args):
        calls.append(1)
        if len(calls) == 45:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(*target, crash_at_45)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "crash")
    saved = json.loads((run_dir(tmp_path / "crash", r, 0) / "curve.json").read_text())
    assert [p["step"] for p in saved["points"]] == [10, 20, 30, 40]  # 40: scored past the checkpoint at 40
    monkeypatch.setattr(*target, real)
    resumed = train(tmp_path / "crash")
    for s, record in resumed.items():
        assert record["train"]["resumed_from"] == 40
        assert record["curve"] == clean[s]["curve"]
        assert len(set(record["curve"]["metrics"]["hq_fraction"])) > 2  # a curve that moves, not a constant


def test_a_batched_seed_has_the_curve_of_the_seed_trained_alone(tmp_path):
    r = recipe(tmp_path)
    batched = run_seeds(r, [0, 1], runs=tmp_path / "batched", device="cpu", progress=False)
    alone = run_recipe(r, 1, runs=tmp_path / "alone", device="cpu", progress=False)
    assert batched[1]["curve"]["steps"] == alone["curve"]["steps"]
    for key in ("hq_fraction", "reverse_kl"):
        assert batched[1]["curve"]["metrics"][key] == pytest.approx(alone["curve"]["metrics"][key], abs=0.01)
    assert batched[0]["curve"] != batched[1]["curve"]


@pytest.mark.parametrize("value", ["0", "61", "true", "2.5"])
def test_a_curve_every_out_of_range_is_refused_before_anything_is_written(cli, tmp_path, value):
    path = tmp_path / "r.toml"
    path.write_text(RECIPE.format(curve=f"curve_every = {value}", ema=""))
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "curve_every")
    assert not (tmp_path / "runs").exists()
