"""Tables and plots are a pure function of the runs folder: a run writes its plot artefact beside
its record, a rebuild reads it (never the model), and an older run without one gets it drawn once."""

import shutil

import pytest

import genbench.checkpoint
import genbench.scoring
from genbench.api import bench, leaderboard
from genbench.artefacts import SAMPLES, SWEEP, read_sweep
from genbench.errors import GenbenchError
from tests.conftest import REPO


@pytest.fixture
def one_recipe(tmp_path):
    """The committed recipes, with a suite of ring8's mixture alone (three runs of a second or two)."""
    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "suites.toml").write_text('[one]\nrecipes = ["ring8/gmm"]\n')
    return baselines


def no_model(*args, **kwargs):
    raise AssertionError("a rebuild loaded or sampled a model")


def test_a_rebuild_reads_the_runs_artefact_and_never_a_model(tmp_path, monkeypatch, one_recipe):
    bench("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=one_recipe, quiet=True)
    runs = tmp_path / "runs/ring8/gmm"
    assert (runs / "seed0" / SAMPLES).is_file()  # the seed the plot shows ...
    assert not (runs / "seed1" / SAMPLES).exists()  # ... and no other
    monkeypatch.setattr(genbench.checkpoint, "load_checkpoint", no_model)
    monkeypatch.setattr(genbench.scoring, "draw_samples", no_model)
    leaderboard("one", runs=tmp_path / "runs", leaderboards=tmp_path / "again", baselines=one_recipe)
    plot = (runs / "seed0" / SAMPLES).read_bytes()
    assert (tmp_path / "again/one/ring8--gmm.png").read_bytes() == plot
    assert (tmp_path / "again/one.csv").read_text() == (tmp_path / "lb/one.csv").read_text()


def test_an_older_run_gets_its_artefact_drawn_once(tmp_path, monkeypatch, one_recipe):
    stale = tmp_path / "runs/ring8/gmm/seed0" / SAMPLES
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier run's plot")
    # Without plots, runs write no artefact (as runs did before artefacts existed), and a rerun
    # removes an earlier run's, which would otherwise stand beside the new record.
    bench("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=one_recipe, plots=False, quiet=True)
    assert not stale.exists()

    loads = []
    real = genbench.checkpoint.load_checkpoint

    def counted(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(genbench.checkpoint, "load_checkpoint", counted)
    leaderboard("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=one_recipe)
    assert len(loads) == 1 and stale.is_file()
    assert (tmp_path / "lb/one/ring8--gmm.png").read_bytes() == stale.read_bytes()
    leaderboard("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=one_recipe)
    assert len(loads) == 1  # stored: the second rebuild did not load the model again


def test_the_run_draws_what_the_leaderboard_drew_from_its_checkpoint(tmp_path, one_recipe):
    bench("one", runs=tmp_path / "a", leaderboards=tmp_path / "la", baselines=one_recipe, quiet=True)
    bench("one", runs=tmp_path / "b", leaderboards=tmp_path / "lb", baselines=one_recipe, plots=False, quiet=True)
    leaderboard("one", runs=tmp_path / "b", leaderboards=tmp_path / "lb", baselines=one_recipe)
    assert (tmp_path / "a/ring8/gmm/seed0" / SAMPLES).read_bytes() == (tmp_path / "b/ring8/gmm/seed0" / SAMPLES).read_bytes()


def test_damaged_sweep_data_is_named(tmp_path):
    (tmp_path / SWEEP).write_text('{"title": "x", "sweep": [{"temperature": 1}]}')
    with pytest.raises(GenbenchError, match="sweep data .* cannot be read"):
        read_sweep(tmp_path / SWEEP)
