"""`genbench bench`: a suite end to end, resumable after an interruption."""

import subprocess
import sys

import pandas as pd
import pytest

import genbench.runs
from genbench.api import bench
from tests.conftest import REPO


@pytest.fixture
def mini_baselines(tmp_path):
    """The committed recipes, with a small suite of the two 2-D mixtures (six runs)."""
    import shutil

    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "suites.toml").write_text('[mini]\nrecipes = ["ring8/gmm", "grid25/gmm"]\n')
    return baselines


def test_interrupted_bench_continues_where_it_stopped(tmp_path, monkeypatch, mini_baselines):
    real_fit, calls = genbench.runs.fit, []

    def fit_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the 4th run dies mid-training
        return real_fit(*args, **kwargs)

    def bench_mini(runs, lb):
        return bench("mini", runs=tmp_path / runs, leaderboards=tmp_path / lb, baselines=mini_baselines,
                     plots=False, quiet=True)

    monkeypatch.setattr(genbench.runs, "fit", fit_then_crash)
    with pytest.raises(KeyboardInterrupt):
        bench_mini("runs", "lb")
    records = sorted(p.relative_to(tmp_path / "runs").as_posix() for p in (tmp_path / "runs").rglob("record.json"))
    assert records == ["ring8/gmm/seed0/record.json", "ring8/gmm/seed1/record.json", "ring8/gmm/seed2/record.json"]
    assert not (tmp_path / "runs/grid25/gmm/seed0/model.safetensors").exists()  # died before its checkpoint
    assert not (tmp_path / "lb/mini.csv").exists()

    monkeypatch.setattr(genbench.runs, "fit", real_fit)
    resumed = bench_mini("runs", "lb")
    assert resumed["skipped"] == 3 and resumed["ran"] == 3

    clean = bench_mini("clean", "lb2")
    assert clean["ran"] == 6
    a, b = pd.read_csv(tmp_path / "lb/mini.csv"), pd.read_csv(tmp_path / "lb2/mini.csv")
    cols = [c for c in a.columns if c != "train_time_s"]
    pd.testing.assert_frame_equal(a[cols], b[cols])

    again = bench_mini("runs", "lb")
    assert again["ran"] == 0 and again["skipped"] == 6


def test_changed_recipe_is_rerun(tmp_path, mini_baselines):
    first = bench("mini", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=mini_baselines, quiet=True)
    assert first["ran"] == 6
    recipe = mini_baselines / "ring8/gmm.toml"
    recipe.write_text(recipe.read_text().replace("components = 8", "components = 7"))
    second = bench("mini", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=mini_baselines, quiet=True)
    assert second["ran"] == 3 and second["skipped"] == 3


@pytest.mark.slow
def test_quick_suite_from_the_cli_matches_the_committed_leaderboard(tmp_path):
    """What CI does: run the quick suite into a scratch folder and gate it against leaderboards/quick.csv."""
    env_cmd = [sys.executable, "-m", "genbench"]
    done = subprocess.run(env_cmd + ["bench", "quick", "--runs", tmp_path / "runs", "--leaderboards", tmp_path / "lb",
                                     "--quiet"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "leaderboard written to" in done.stdout
    assert (tmp_path / "lb/quick.md").is_file() and (tmp_path / "lb/quick/grid25--gmm.png").is_file()
    gate = subprocess.run(env_cmd + ["gate", "--baseline", REPO / "leaderboards/quick.csv", "--results",
                                     tmp_path / "runs"], capture_output=True, text=True, cwd=REPO)
    assert gate.returncode == 0, gate.stdout + gate.stderr

    table = pd.read_csv(tmp_path / "lb/quick.csv").set_index("recipe")
    assert table.loc["grid25/gmm", "modes"] == 25 and table.loc["grid25/gmm", "hq_fraction"] >= 0.9
    assert table.loc["ring8/gmm", "modes"] == 8
    assert table.loc["grid25/gmm-k1", "hq_fraction"] < 0.05  # one Gaussian: few high-quality samples
    assert table.loc["grid25/gmm-k1", "reverse_kl"] > 5 * table.loc["grid25/gmm", "reverse_kl"]
    assert table.loc["digits/gmm", "bpd"] < 4.0  # a uniform model scores log2(17) = 4.09
