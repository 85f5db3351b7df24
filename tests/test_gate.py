"""`genbench gate`: pass on unchanged results, fail (exit 1) on regressions, in each metric's direction."""

import json
import shutil

import pytest

from genbench.api import bench
from tests.conftest import assert_one_line_error


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    bench("quick", runs=root / "runs", leaderboards=root / "lb", plots=False, quiet=True)
    return root


def worsened(baseline, tmp_path, recipe, seed, metric, value):
    runs = tmp_path / "runs"
    shutil.copytree(baseline / "runs", runs)
    path = runs / recipe / f"seed{seed}" / "record.json"
    record = json.loads(path.read_text())
    record["metrics"][metric] = value(record["metrics"][metric])
    path.write_text(json.dumps(record))
    return runs


def test_unchanged_results_pass(cli, baseline):
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "runs")
    assert code == 0 and "gate passed" in out
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "lb/quick.csv")
    assert code == 0


def test_lost_mode_fails(cli, baseline, tmp_path):
    runs = worsened(baseline, tmp_path, "grid25/gmm", 1, "modes", lambda v: v - 1)
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", runs)
    assert code == 1
    assert "grid25/gmm" in out and "modes (higher is better)" in out and "FAILED" in out


def test_higher_nll_fails_lower_nll_passes(cli, baseline, tmp_path):
    runs = worsened(baseline, tmp_path, "digits/gmm", 0, "bpd", lambda v: v + 0.1)
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", runs)
    assert code == 1 and "bpd (lower is better)" in out
    better = worsened(baseline, tmp_path / "b", "digits/gmm", 0, "bpd", lambda v: v - 0.1)
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", better)
    assert code == 0


def test_tolerance_override(cli, baseline, tmp_path):
    runs = worsened(baseline, tmp_path, "digits/gmm", 0, "bpd", lambda v: v + 0.1)
    lb = baseline / "lb/quick.csv"
    assert cli("gate", "--baseline", lb, "--results", runs, "--tolerance", "bpd=0.05")[0] == 0
    assert cli("gate", "--baseline", lb, "--results", runs, "--tolerance", "bpd=0.01")[0] == 1


def test_missing_recipe_fails_unless_allowed(cli, baseline, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(baseline / "runs", runs)
    shutil.rmtree(runs / "ring8")
    lb = baseline / "lb/quick.csv"
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs)
    assert code == 1 and "ring8/gmm: no results" in out
    assert cli("gate", "--baseline", lb, "--results", runs, "--allow-missing")[0] == 0


@pytest.mark.parametrize("tol, needle", [("mods=1", "did you mean 'modes'"), ("modes", "metric=value"),
                                         ("modes=x", "must be a number"), ("modes=-1", ">= 0")])
def test_bad_tolerance(cli, baseline, tol, needle):
    code, _, err = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "runs",
                       "--tolerance", tol)
    assert_one_line_error(code, err, needle)


def test_results_with_no_records(cli, baseline, tmp_path):
    code, _, err = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", tmp_path)
    assert_one_line_error(code, err, "no run records")
