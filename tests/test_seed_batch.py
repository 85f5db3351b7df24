"""Seed-batched training (genbench.seed_batch): a recipe's seeds as one stacked computation, each
seed equal to the same seed trained alone, records and resumable state per seed as ever."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

import genbench.seed_batch
from genbench.errors import GenbenchError
from genbench.recipes import load_recipe
from genbench.runs import run_dir, run_recipe, run_seeds

# PacGAN's 2-D players, smaller: batch-norm G, maxout D, simultaneous update, with every trainer
# option the batched step must honour (per-seed clipping, schedule, EMA with warm-up).
RECIPE = """
version = 1
dataset = {{name = "ring8", n_train = 2000}}
seeds = [0, 1, 2]
{extra}
[model]
name = "gan"
pack = 2
latent = 2
hidden = 64
layers = 3
batch_norm = true
g_activation = "relu"
discriminator = "maxout"
d_hidden = 32
d_layers = 2
init_std = 0.02
update = "{update}"
[train]
steps = {steps}
batch_size = 200
lr = 0.001
beta1 = 0.8
grad_clip = 0.5
schedule = "cosine"
ema = 0.9
ema_warmup = true
checkpoint_every = 20
[score]
metrics = ["coverage"]
n_samples = 500
"""


def recipe(tmp_path, steps=30, update="simultaneous", extra=""):
    path = tmp_path / "pac.toml"
    path.write_text(RECIPE.format(steps=steps, update=update, extra=extra))
    return load_recipe(path)


def weights(runs, r, seed):
    return load_file(run_dir(runs, r, seed) / "model.safetensors")


def assert_same_run(runs_a, runs_b, r, seed):
    """The same trained model to float rounding. A bias just before batch norm is cancelled by it, so
    its gradient is rounding noise that Adam scales to full-size steps: that bias (and the running
    mean that trails it) wanders by rounding alone, so it is compared by its effect on what training
    sees, the generator's output under batch statistics."""
    from genbench.checkpoint import load_checkpoint

    a, b = weights(runs_a, r, seed), weights(runs_b, r, seed)
    assert a.keys() == b.keys()
    cancelled = {f"G.{i}.bias" for i in (0, 3, 6)} | {f"G.{i}.running_mean" for i in (1, 4, 7)}
    for k in a.keys() - cancelled:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6, msg=k)
    z = torch.randn(256, 2, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        out = [load_checkpoint(run_dir(runs, r, seed) / "model.safetensors")[0].train().G(z) for runs in (runs_a, runs_b)]
    torch.testing.assert_close(out[1], out[0], rtol=1e-4, atol=1e-6)


def test_a_batched_seed_is_the_seed_trained_alone(tmp_path):
    r = recipe(tmp_path)
    batched = run_seeds(r, [0, 1, 2], runs=tmp_path / "batched", device="cpu", progress=False)
    for s in (0, 1, 2):
        alone = run_recipe(r, s, runs=tmp_path / "alone", device="cpu", progress=False)
        assert_same_run(tmp_path / "alone", tmp_path / "batched", r, s)
        assert batched[s]["train"]["final"]["loss_d"] == pytest.approx(alone["train"]["final"]["loss_d"], rel=1e-4)
        assert batched[s]["train"]["seeds_batched"] == 3
        assert set(batched[s]) == set(alone)  # the record's format is the single run's
    w0, w1 = weights(tmp_path / "batched", r, 0), weights(tmp_path / "batched", r, 1)
    assert not torch.allclose(w0["G.0.weight"], w1["G.0.weight"])  # the seeds really differ


def test_a_batched_seed_is_the_seed_trained_alone_under_pacgans_code_options(tmp_path):
    # Per-slot G calls with Blocks' batch norm (its population statistics updated in place inside the
    # vmap), a resampled pool of real packs per seed, no G hidden bias.
    path = tmp_path / "code.toml"
    # 20 steps: later the two float orders part (seed 1: agreeing to 1e-7 at step 22, D apart by 1e-4
    # at step 26), rounding amplified by the two players' dynamics; not traced further.
    path.write_text(RECIPE.format(steps=20, update="simultaneous", extra="").replace(
        'update = "simultaneous"', 'update = "simultaneous"\nfake_draws = "per_slot"\nreal_packs = "resampled"\n'
        'g_bias = false\nbn_momentum = 0.05').replace("batch_size = 200", "batch_size = 100")
        .replace("grad_clip = 0.5\n", "").replace("ema = 0.9\nema_warmup = true\n", ""))  # tested above
    r = load_recipe(path)
    run_seeds(r, [0, 1], runs=tmp_path / "batched", device="cpu", progress=False)
    from genbench.checkpoint import load_checkpoint

    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(8))  # packs of 2 points
    for s in (0, 1):
        run_recipe(r, s, runs=tmp_path / "alone", device="cpu", progress=False)
        a, b = weights(tmp_path / "alone", r, s), weights(tmp_path / "batched", r, s)
        for k in (k for k in a if k.startswith("G.")):
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6, msg=k)
        # D's maxout pieces that are seldom the max get gradients at rounding level, which Adam scales
        # to full-size steps: D is compared by what it computes, its logits.
        with torch.no_grad():
            logits = [load_checkpoint(run_dir(runs, r, s) / "model.safetensors")[0].D(x)
                      for runs in (tmp_path / "alone", tmp_path / "batched")]
        torch.testing.assert_close(logits[1], logits[0], rtol=1e-4, atol=1e-6)
        w = b
        assert "G.0.bias" not in w and (w["G.1.running_std"] != 1).all()  # the statistics did move
    assert not torch.equal(weights(tmp_path / "batched", r, 0)["G.1.running_mean"],
                           weights(tmp_path / "batched", r, 1)["G.1.running_mean"])


def test_a_crashed_batched_run_resumes_bit_for_bit_and_the_single_trainer_reads_its_state(tmp_path, monkeypatch):
    r = recipe(tmp_path, steps=60)
    clean = run_seeds(r, [0, 1], runs=tmp_path / "clean", device="cpu", progress=False)

    real_step, calls = genbench.seed_batch.SeedStack.step, []

    def crash_at_45(self, *args):
        calls.append(1)
        if len(calls) == 45:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(genbench.seed_batch.SeedStack, "step", crash_at_45)
    with pytest.raises(KeyboardInterrupt):
        run_seeds(r, [0, 1], runs=tmp_path / "crash", device="cpu", progress=False)
    for s in (0, 1):
        assert json.loads((run_dir(tmp_path / "crash", r, s) / "train_state.json").read_text())["step"] == 40
        assert not (run_dir(tmp_path / "crash", r, s) / "record.json").exists()
    monkeypatch.setattr(genbench.seed_batch.SeedStack, "step", real_step)
    shutil.copytree(tmp_path / "crash", tmp_path / "crash-copy")
    resumed = run_seeds(r, [0, 1], runs=tmp_path / "crash", device="cpu", progress=False)
    for s in (0, 1):
        assert resumed[s]["train"]["resumed_from"] == 40
        assert resumed[s]["metrics"] == clean[s]["metrics"]
        assert (run_dir(tmp_path / "crash", r, s) / "model.safetensors").read_bytes() == \
            (run_dir(tmp_path / "clean", r, s) / "model.safetensors").read_bytes()
    # Seed 1's state, saved by the batched trainer, resumed by the one-seed trainer: the same run.
    alone = run_recipe(r, 1, runs=tmp_path / "crash-copy", device="cpu", progress=False)
    assert alone["train"]["resumed_from"] == 40
    assert_same_run(tmp_path / "clean", tmp_path / "crash-copy", r, 1)


def test_a_model_without_a_functional_step_is_refused_by_name(tmp_path):
    with pytest.raises(GenbenchError, match="alternating update"):
        run_seeds(recipe(tmp_path, update="alternating"), [0, 1], runs=tmp_path / "runs", device="cpu")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(GenbenchError, match="gives no functional training step"):
        run_seeds(load_recipe("ring8/vae"), [0], runs=tmp_path / "runs", device="cpu")


def test_bench_trains_a_seeds_batched_recipe_as_one_unit(cli, tmp_path):
    from tests.conftest import REPO

    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "ring8" / "pac.toml").write_text(RECIPE.format(steps=10, update="simultaneous",
                                                                 extra="seeds_batched = true"))
    (baselines / "suites.toml").write_text('[mini]\nrecipes = ["ring8/pac", "ring8/gmm"]\n')
    code, out, err = cli("bench", "mini", "--runs", tmp_path / "runs", "--leaderboards", tmp_path / "lb",
                         "--baselines", baselines, "--no-plots")
    assert code == 0, err
    assert "ran 6" in out  # ring8/gmm's three seeds alone, ring8/pac's three together
    records = [json.loads((tmp_path / "runs" / "ring8/pac" / f"seed{s}" / "record.json").read_text()) for s in range(3)]
    assert [rec["train"]["seeds_batched"] for rec in records] == [3, 3, 3]
    gmm = json.loads((tmp_path / "runs" / "ring8/gmm" / "seed0" / "record.json").read_text())
    assert "seeds_batched" not in gmm["train"]
    assert "ring8/pac" in (tmp_path / "lb" / "mini.md").read_text()


def test_batch_seeds_on_a_suite_it_cannot_batch_is_one_line_exit_2_nothing_written(cli, tmp_path):
    from tests.conftest import assert_one_line_error

    code, _, err = cli("bench", "quick", "--batch-seeds", "--runs", tmp_path / "runs",
                       "--leaderboards", tmp_path / "lb")
    assert_one_line_error(code, err, "cannot train its seeds batched")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()
