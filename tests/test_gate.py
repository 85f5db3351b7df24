"""`genbench gate`: pass on unchanged results, fail (exit 1) on regressions, in each metric's direction."""

import json
import shutil

import pytest

from genbench.api import bench, gate
from genbench.record_file import seal
from tests.conftest import assert_one_line_error


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    bench("quick", runs=root / "runs", leaderboards=root / "lb", plots=False, quiet=True)
    return root


def worsened(baseline, tmp_path, recipe, seeds, metric, value):
    """A copy of the fixture's runs with `metric` of `recipe` changed by `value` in each of `seeds`, each
    record sealed again as a run of worse code would have written it."""
    runs = tmp_path / "runs"
    shutil.copytree(baseline / "runs", runs)
    for seed in seeds:
        path = runs / recipe / f"seed{seed}" / "record.json"
        record = json.loads(path.read_text())
        record["metrics"][metric] = value(record["metrics"][metric])
        path.write_text(json.dumps(seal(record)))
    return runs


def test_unchanged_results_pass(cli, baseline):
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "runs")
    assert code == 0 and "gate passed" in out
    code, out, _ = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "lb/quick.csv")
    assert code == 0


def test_lost_mode_in_every_seed_fails_in_one_seed_is_seed_noise(cli, baseline, tmp_path):
    """grid25/gmm finds all 25 modes in every seed (no spread): a mode lost in all three is certain, a mode
    lost in one seed of three is t = 1 on 2 degrees of freedom (p = 0.21), reported but not a failure."""
    lb = baseline / "lb/quick.csv"
    runs = worsened(baseline, tmp_path, "grid25/gmm", [0, 1, 2], "modes", lambda v: v - 1)
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs)
    assert code == 1
    assert "grid25/gmm" in out and "modes (higher is better)" in out and "FAILED" in out
    assert "25 ± 0 (n=3)" in out and "24 ± 0 (n=3)" in out and "inf" in out  # t: no spread on either side
    one = worsened(baseline, tmp_path / "one", "grid25/gmm", [1], "modes", lambda v: v - 1)
    code, out, _ = cli("gate", "--baseline", lb, "--results", one)
    assert code == 0 and "gate passed" in out
    assert "grid25/gmm: modes worse by 0.333333" in out and "within seed noise: t = 1, df = 2, p = 0.21" in out


def test_higher_bpd_fails_beyond_seed_noise_lower_bpd_passes(cli, baseline, tmp_path):
    """digits/gmm's bpd varies by about 0.07 between seeds: +0.3 in every seed is significant, +0.3 in
    one seed is not."""
    lb = baseline / "lb/quick.csv"
    runs = worsened(baseline, tmp_path, "digits/gmm", [0, 1, 2], "bpd", lambda v: v + 0.3)
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs)
    assert code == 1 and "bpd (lower is better)" in out
    assert "1 of " in out and "alpha 0.01" in out
    assert cli("gate", "--baseline", lb, "--results",
               worsened(baseline, tmp_path / "one", "digits/gmm", [0], "bpd", lambda v: v + 0.3))[0] == 0
    better = worsened(baseline, tmp_path / "b", "digits/gmm", [0, 1, 2], "bpd", lambda v: v - 0.3)
    assert cli("gate", "--baseline", lb, "--results", better)[0] == 0


def test_tolerance_override_is_the_floor_alpha_the_level(cli, baseline, tmp_path):
    runs = worsened(baseline, tmp_path, "digits/gmm", [0, 1, 2], "bpd", lambda v: v + 0.3)
    lb = baseline / "lb/quick.csv"
    assert cli("gate", "--baseline", lb, "--results", runs, "--tolerance", "bpd=0.31")[0] == 0
    assert cli("gate", "--baseline", lb, "--results", runs, "--tolerance", "bpd=0.29")[0] == 1
    assert cli("gate", "--baseline", lb, "--results", runs, "--alpha", "0.0001")[0] == 0  # t = 5.2 on 4 df


def test_one_seed_borrows_the_other_sides_spread_and_none_leaves_the_tolerance(cli, baseline, tmp_path):
    """Tables edited so digits/gmm was run with one seed: its bpd is compared by borrowing the other
    side's spread (3 seeds, std ~0.07), or, with one seed on both sides, by the tolerance alone."""
    lb = baseline / "lb/quick.csv"

    def one_seed(worse):
        def edit(frame):
            row = frame.recipe == "digits/gmm"
            frame.loc[row, "n_seeds"] = 1
            frame.loc[row, "bpd"] += worse
            return frame
        return edit

    def gate(base, results):
        return cli("gate", "--baseline", base, "--results", results, "--recipes", "digits/gmm")

    slightly = edited_table(baseline, tmp_path, one_seed(0.01), "slightly.csv")
    much = edited_table(baseline, tmp_path, one_seed(1.0), "much.csv")
    assert gate(lb, slightly)[0] == 0  # 0.01 against a spread of 0.07
    code, out, _ = gate(lb, much)
    assert code == 1 and "(n=1)" in out and "12.3" in out  # t = 1 / (0.0703 * sqrt(1/3 + 1)), on 2 df
    code, out, _ = gate(edited_table(baseline, tmp_path, one_seed(0.0), "single.csv"), slightly)
    assert code == 1 and "1 seed each: tolerance alone" in out


def test_missing_recipe_fails_unless_allowed(cli, baseline, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(baseline / "runs", runs)
    shutil.rmtree(runs / "ring8")
    lb = baseline / "lb/quick.csv"
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs)
    assert code == 1 and "ring8/gmm: no results" in out
    assert cli("gate", "--baseline", lb, "--results", runs, "--allow-missing")[0] == 0


def test_recipes_gate_part_of_a_suite(cli, baseline, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(baseline / "runs", runs)
    shutil.rmtree(runs / "ring8")
    lb = baseline / "lb/quick.csv"
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs, "--recipes", "grid25/*", "--recipes", "digits/gmm")
    assert code == 0 and "ring8" not in out
    code, out, _ = cli("gate", "--baseline", lb, "--results", runs, "--recipes", "ring8/*", "--recipes", "grid25/gmm")
    assert code == 1 and "ring8/gmm: no results" in out
    assert cli("gate", "--baseline", lb, "--results", runs, "--recipes", "ring8/*", "--recipes", "grid25/gmm",
               "--allow-missing")[0] == 0
    code, _, err = cli("gate", "--baseline", lb, "--results", runs, "--recipes", "ring8/*", "--allow-missing")
    assert_one_line_error(code, err, "compared nothing")
    worse = worsened(baseline, tmp_path / "w", "grid25/gmm", [0, 1, 2], "modes", lambda v: v - 1)
    assert cli("gate", "--baseline", lb, "--results", worse, "--recipes", "grid25/gmm-*")[0] == 0
    assert cli("gate", "--baseline", lb, "--results", worse, "--recipes", "grid25/*")[0] == 1


@pytest.mark.parametrize("tol, needle", [("mods=1", "did you mean 'modes'"), ("modes", "metric=value"),
                                         ("modes=x", "must be a number"), ("modes=-1", ">= 0")])
def test_bad_tolerance(cli, baseline, tol, needle):
    code, _, err = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "runs",
                       "--tolerance", tol)
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize("args, needle", [(("--recipes", "ring9/*"), "did you mean 'ring8/gmm'"),
                                          (("--alpha", "0"), "--alpha must lie in (0, 1)"),
                                          (("--alpha", "1.5"), "--alpha must lie in (0, 1)")])
def test_bad_recipes_pattern_or_alpha(cli, baseline, args, needle):
    code, _, err = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", baseline / "runs", *args)
    assert_one_line_error(code, err, needle)


def test_results_with_no_records(cli, baseline, tmp_path):
    code, _, err = cli("gate", "--baseline", baseline / "lb/quick.csv", "--results", tmp_path)
    assert_one_line_error(code, err, "no run records")


def edited_table(baseline, tmp_path, edit, name="baseline.csv"):
    """The fixture's baseline table after `edit(frame)`, written to tmp_path."""
    import pandas as pd

    frame = pd.read_csv(baseline / "lb/quick.csv")
    frame = edit(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def without_metrics(frame):
    from genbench.leaderboard.records import metric_columns

    return frame.drop(columns=[c for m in metric_columns(frame) for c in (m, f"{m}_std")])


def all_nan(frame):
    from genbench.leaderboard.records import metric_columns

    for m in metric_columns(frame):
        frame[m] = float("nan")
    return frame


@pytest.mark.parametrize("edit", [without_metrics, all_nan], ids=["no metric columns", "all metrics NaN"])
def test_gate_that_compared_nothing_fails(cli, baseline, tmp_path, edit):
    table = edited_table(baseline, tmp_path, edit)
    code, _, err = cli("gate", "--baseline", table, "--results", baseline / "runs")
    assert_one_line_error(code, err, "compared nothing", str(table))


def test_nan_baseline_value_is_reported_not_skipped(cli, baseline, tmp_path):
    def blank(frame):
        frame.loc[frame.recipe == "grid25/gmm", "modes"] = float("nan")
        return frame

    code, out, _ = cli("gate", "--baseline", edited_table(baseline, tmp_path, blank), "--results", baseline / "runs")
    assert code == 0 and "gate passed" in out
    assert "grid25/gmm: modes has no baseline value" in out


def test_metric_without_a_baseline_column_is_reported(cli, baseline, tmp_path):
    code, out, _ = cli("gate", "--baseline", edited_table(baseline, tmp_path, lambda f: f.drop(columns=["modes"])),
                       "--results", baseline / "runs")
    assert code == 0 and "gate passed" in out
    assert "modes: in the results but the baseline has no column for it; not compared" in out


@pytest.mark.parametrize("column", ["nll", "nll_std", "n_seeds"])
def test_string_in_a_baseline_number_column_names_file_column_and_row(cli, baseline, tmp_path, column):
    def spoil(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[1, column] = "abc"
        return frame

    table = edited_table(baseline, tmp_path, spoil)
    code, _, err = cli("gate", "--baseline", table, "--results", baseline / "runs")
    assert_one_line_error(code, err, str(table), f"column {column!r}", "row 2", "grid25/gmm", "'abc'")



SMALL = {  # two small ring8 recipes and their training steps: one sample-only (GAN), one with a likelihood
    "gan": (600, """[model]
name = "gan"
hidden = 128
latent = 16
[train]
lr = 0.0002
beta1 = 0.5
[score]
metrics = ["coverage"]
"""),
    "realnvp": (300, """[model]
name = "realnvp"
layers = 4
hidden = 64
[train]
lr = 0.001
[score]
metrics = ["nll", "coverage"]
"""),
}


def small_suite(root, seeds, shorten=1):
    """The SMALL recipes with `seeds`, trained 1/`shorten` of their steps, benched under root."""
    (root / "baselines/ring8").mkdir(parents=True)
    for model, (steps, text) in SMALL.items():
        text = f'version = 1\ndataset = "ring8"\nseeds = {list(seeds)}\n' + text
        text = text.replace("[train]\n", f"[train]\nsteps = {steps // shorten}\nbatch_size = 256\n")
        (root / f"baselines/ring8/{model}.toml").write_text(text)
    (root / "baselines/suites.toml").write_text('[small]\nrecipes = ["ring8/gan", "ring8/realnvp"]\n')
    bench("small", runs=root / "runs", leaderboards=root / "lb", baselines=root / "baselines", plots=False, quiet=True)
    return root


@pytest.mark.slow
def test_gate_passes_a_rerun_and_fails_a_tenth_of_the_training(tmp_path):
    """Real runs both ways. Other seeds stand in for another machine, whose rounding sends training
    elsewhere much as another seed does: the same recipes run with seeds 3-5 pass against the table of
    seeds 0-2, and the same recipes with a tenth of their training steps fail it, each recipe."""
    baseline = small_suite(tmp_path / "baseline", [0, 1, 2]) / "lb/small.csv"
    rerun = gate(baseline, small_suite(tmp_path / "rerun", [3, 4, 5]) / "runs")
    assert rerun.passed, rerun.report()
    assert {c.recipe for c in rerun.comparisons} == {"ring8/gan", "ring8/realnvp"}
    short = gate(baseline, small_suite(tmp_path / "short", [3, 4, 5], shorten=10) / "runs")
    assert not short.passed
    assert {c.recipe for c in short.regressions} == {"ring8/gan", "ring8/realnvp"}, short.report()
    assert all(c.test is not None and c.test.p < 0.01 for c in short.regressions)  # significant, not tolerance alone


def gate_subprocess(*args):
    """`python -m genbench gate ARGS` in a real process, as a CI step runs it."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "genbench", "gate", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, env=env)


def test_json_report_on_stdout_names_every_compared_metric(baseline, tmp_path):
    """--json -: the JSON alone on stdout (it parses), the table on stderr, pass or fail; each metric with
    baseline, now, tolerance, t, df, p and verdict, as the gate weighed them."""
    from genbench.metrics import output_spec

    lb = baseline / "lb/quick.csv"
    done = gate_subprocess("--baseline", lb, "--results", baseline / "runs", "--json", "-")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True and report["alpha"] == 0.01 and report["regressions"] == 0
    rows = {(c["recipe"], c["metric"]): c for c in report["comparisons"]}
    assert len(rows) == report["compared"] > 0 and ("grid25/gmm", "modes") in rows
    bpd = rows[("digits/gmm", "bpd")]
    # the table keeps 8 significant digits, the records all of them
    assert bpd["baseline"]["mean"] == pytest.approx(bpd["now"]["mean"], rel=1e-7) and bpd["baseline"]["n"] == 3
    assert bpd["worse_by"] == bpd["now"]["mean"] - bpd["baseline"]["mean"] and abs(bpd["worse_by"]) < 1e-6
    assert bpd["tolerance"] == output_spec("bpd").allowed(bpd["baseline"]["mean"])
    assert abs(bpd["t"]) < 1e-4 and bpd["df"] > 0 and bpd["p"] == pytest.approx(0.5, abs=1e-4)
    assert bpd["verdict"] in ("within tolerance", "better")
    assert "gate passed" in done.stderr and "digits/gmm" in done.stderr and "within tolerance" in done.stderr

    runs = worsened(baseline, tmp_path, "grid25/gmm", [0, 1, 2], "modes", lambda v: v - 1)
    done = gate_subprocess("--baseline", lb, "--results", runs, "--json", "-")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    modes = {(c["recipe"], c["metric"]): c for c in report["comparisons"]}[("grid25/gmm", "modes")]
    assert report["passed"] is False and report["regressions"] == 1
    assert (modes["baseline"]["mean"], modes["now"]["mean"], modes["worse_by"]) == (25, 24, 1)
    assert modes["t"] is None and modes["p"] == 0 and modes["verdict"] == "regressed"  # t = inf: no spread, JSON null
    assert "gate FAILED" in done.stderr


def test_pass_prints_the_table_and_json_file_is_written_atomically(cli, baseline, tmp_path):
    lb = baseline / "lb/quick.csv"
    code, out, _ = cli("gate", "--baseline", lb, "--results", baseline / "runs", "--json", tmp_path / "gate.json")
    assert code == 0
    report = json.loads((tmp_path / "gate.json").read_text())
    assert f"gate passed: {report['compared']} metric(s) compared" in out
    table = [ln for ln in out.splitlines() if ln.startswith("  ") and ("(higher is better)" in ln or "(lower is better)" in ln)]
    assert len(table) == report["compared"]  # one line per compared metric
    assert "verdict" in out and "modes (higher is better)" in out


def test_gate_json_may_not_replace_an_input(cli, baseline, tmp_path):
    import shutil

    copy = tmp_path / "quick.csv"
    shutil.copy(baseline / "lb/quick.csv", copy)
    before = copy.read_bytes()
    code, _, err = cli("gate", "--baseline", copy, "--results", baseline / "runs", "--json", copy)
    assert_one_line_error(code, err, "--json", "is --baseline")
    assert copy.read_bytes() == before
