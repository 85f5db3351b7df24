"""A suite with `keep_records = true` keeps its runs' records (with their learning curves) and plot
artefacts under the leaderboards folder, never a checkpoint, and rebuilds its table from them as
more seeds finish, with or without the runs folder."""

import shutil

import pandas as pd
import pytest

from genbench.errors import GenbenchError
from genbench.leaderboard import build_leaderboard
from genbench.recipes import load_recipe, load_suites
from genbench.runs import run_recipe
from tests.conftest import REPO

RECIPE = """
version = 1
dataset = {name = "ring8", n_train = 500}
seeds = [0, 1]
[model]
name = "gmm"
components = 8
tol = 0.0
[train]
steps = 6
[score]
metrics = ["nll", "coverage"]
n_samples = 300
curve_every = 2
"""


@pytest.fixture
def baselines(tmp_path):
    folder = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", folder)
    (folder / "ring8/kept.toml").write_text(RECIPE)
    (folder / "suites.toml").write_text('[long]\nkeep_records = true\nrecipes = ["ring8/kept"]\n')
    return folder


def test_finished_runs_are_kept_and_the_table_rebuilds_from_them_as_seeds_finish(tmp_path, baselines):
    recipe = load_recipe("ring8/kept", baselines)
    out = tmp_path / "leaderboards"
    run_recipe(recipe, 0, runs=tmp_path / "machine-a", device="cpu", progress=False)
    first = build_leaderboard("long", runs=tmp_path / "machine-a", out=out, baselines=baselines)
    assert first["records"] == 1
    kept = out / "long/records/ring8/kept"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*")) == [
        "seed0", "seed0/record.json", "seed0/samples.png"]  # the record and the plot, never the checkpoint
    markdown = (out / "long.md").read_text()
    assert "[curve](long/ring8--kept--curve.png)" in markdown and (out / "long/ring8--kept--curve.png").is_file()

    # Another machine, another seed: the table has both, the first read from the kept copy.
    shutil.rmtree(tmp_path / "machine-a")
    run_recipe(recipe, 1, runs=tmp_path / "machine-b", device="cpu", progress=False)
    second = build_leaderboard("long", runs=tmp_path / "machine-b", out=out, baselines=baselines)
    assert second["records"] == 2 and (kept / "seed1/record.json").is_file()
    table = pd.read_csv(out / "long.csv")
    assert table["n_seeds"].tolist() == [2] and table["seeds"].tolist() == ["0 1"]

    # A fresh clone: no runs at all, the same table.
    again = build_leaderboard("long", runs=tmp_path / "none", out=out, baselines=baselines)
    assert again["records"] == 2
    pd.testing.assert_frame_equal(pd.read_csv(out / "long.csv").drop(columns="train_time_s"),
                                  table.drop(columns="train_time_s"))
    assert "samples.png" not in {p.name for p in (kept / "seed1").iterdir()}  # only the first seed's plot


def test_a_kept_record_of_an_older_recipe_version_is_not_read(tmp_path, baselines):
    recipe = load_recipe("ring8/kept", baselines)
    out = tmp_path / "leaderboards"
    run_recipe(recipe, 0, runs=tmp_path / "runs", device="cpu", progress=False)
    build_leaderboard("long", runs=tmp_path / "runs", out=out, baselines=baselines)
    (baselines / "ring8/kept.toml").write_text(RECIPE.replace("version = 1", "version = 2"))
    with pytest.raises(GenbenchError, match="no run records"):
        build_leaderboard("long", runs=tmp_path / "none", out=out, baselines=baselines)


def test_keep_records_must_be_true_or_false(tmp_path, baselines):
    (baselines / "suites.toml").write_text('[long]\nkeep_records = "yes"\nrecipes = ["ring8/kept"]\n')
    with pytest.raises(GenbenchError, match="keep_records must be true or false"):
        load_suites(baselines)


def test_the_pacgan_paper_suite_keeps_its_records():
    assert load_suites(REPO / "baselines")["pacgan-paper"]["keep_records"] is True
