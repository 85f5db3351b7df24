"""A run that fails is kept in view: bench lists it, its folder keeps the reason, and the table says
which seeds failed and why until a rerun mends them. A sampler that returns NaN fails its run with
that reason instead of deep inside a metric. `bench --recipes` runs part of a suite."""

import json
import shutil

import pytest
import torch

from genbench.api import bench
from genbench.models.gmm import GaussianMixture
from genbench.recipes import load_recipe
from genbench.runs import ERROR, failure, run_dir
from tests.conftest import REPO, assert_one_line_error


@pytest.fixture
def mini(tmp_path):
    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "suites.toml").write_text('[mini]\nrecipes = ["ring8/gmm", "grid25/gmm"]\n')
    return baselines


def test_a_failed_run_is_listed_kept_and_shown_until_mended(tmp_path, mini, monkeypatch):
    sample = GaussianMixture.sample

    def broken(self, n, generator):
        raise RuntimeError("the sampler broke")

    monkeypatch.setattr(GaussianMixture, "sample", broken)
    kw = dict(runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=mini, plots=False, quiet=True)
    out = bench("mini", recipes=["ring8/*"], **kw)
    assert out["ran"] == 0 and [(r, s) for r, s, _ in out["failed"]] == [("ring8/gmm", s) for s in (0, 1, 2)]
    assert all(why.startswith("RuntimeError: the sampler broke (traceback in") for _, _, why in out["failed"])
    recipe = load_recipe("ring8/gmm", mini)
    assert (run_dir(tmp_path / "runs", recipe, 0) / ERROR).read_text().startswith(recipe.hash + "\n")
    assert not run_dir(tmp_path / "runs", load_recipe("grid25/gmm", mini), 0).exists()  # not asked for

    monkeypatch.setattr(GaussianMixture, "sample", sample)
    out = bench("mini", recipes=["grid25/*"], **kw)  # a table again, from the other recipe's records
    table = (tmp_path / "lb/mini.md").read_text()
    assert out["ran"] == 3 and "`ring8/gmm (3 of 3 seeds); seed 0 failed: RuntimeError: the sampler broke" in table

    out = bench("mini", **kw)  # mended: the reasons go with the runs that failed
    assert out["ran"] == 3 and out["skipped"] == 3 and not out["failed"]
    assert failure(tmp_path / "runs", recipe, 0) is None and "failed" not in (tmp_path / "lb/mini.md").read_text()


def test_nan_samples_leave_sample_metrics_unscored_and_likelihoods_standing(tmp_path, mini, monkeypatch):
    sample = GaussianMixture.sample

    def overflowing(self, n, generator):
        x = sample(self, n, generator)
        x[::7] = float("nan")
        return x

    monkeypatch.setattr(GaussianMixture, "sample", overflowing)
    out = bench("mini", recipes=["ring8/*"], runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=mini,
                plots=False, quiet=True)
    assert out["ran"] == 3 and not out["failed"]
    record = json.loads((run_dir(tmp_path / "runs", load_recipe("ring8/gmm", mini), 0) / "record.json").read_text())
    assert set(record["metrics"]) == {"nll"}  # no coverage numbers from repaired or dropped samples
    assert "returned 358 of 2500 samples with NaN" in record["score"]["unscored"]["coverage"]
    table = (tmp_path / "lb/mini.md").read_text()
    assert "**Not scored**" in table and "- `ring8/gmm` seed 0: coverage: the model's sampler returned 358" in table


def test_a_reason_left_by_another_version_of_the_recipe_is_not_shown(tmp_path, mini):
    recipe = load_recipe("ring8/gmm", mini)
    folder = run_dir(tmp_path, recipe, 0)
    folder.mkdir(parents=True)
    (folder / ERROR).write_text(f"{recipe.hash}\nit broke\n\nTraceback ...")
    assert failure(tmp_path, recipe, 0) == "it broke"
    (folder / ERROR).write_text("0123456789ab\nit broke\n\nTraceback ...")
    assert failure(tmp_path, recipe, 0) is None


def test_recipes_that_match_nothing_are_refused_naming_the_closest(cli, tmp_path):
    code, _, err = cli("bench", "quick", "--recipes", "ring9/*", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "--recipes 'ring9/*' matches no recipe of suite 'quick'", "ring8/gmm")
    assert not (tmp_path / "runs").exists()


def test_nan_samples_are_refused_before_any_metric(tmp_path):
    from genbench.data import load_dataset
    from genbench.errors import GenbenchError
    from genbench.scoring import evaluate

    class Broken:
        has_log_prob = False

        def sample(self, n, generator):
            return torch.full((n, 2), float("inf"))

    with pytest.raises(GenbenchError, match="returned 300 of 300 samples with NaN or infinite.*none of the metrics"):
        evaluate(load_dataset("ring8"), ["coverage"], model=Broken(), n_samples=300, generator=torch.Generator())
