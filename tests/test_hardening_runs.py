"""What a user gives cannot overwrite their runs or leave the runs folder, and what genbench reads back
from the runs folder or a baseline table is checked: a borrowed recipe id never replaces another
recipe's record, an id never reaches outside baselines/ or --runs, a record edited by hand or damaged
is refused by name by gate, leaderboard and site, and a baseline CSV is validated."""

import dataclasses
import json
import os
import shutil

import pytest

from genbench.api import bench
from genbench.errors import GenbenchError
from genbench.recipes import load_recipe
from genbench.record_file import seal
from genbench.runs import run_dir
from tests.conftest import REPO, assert_one_line_error

RING = "ring8/gmm"


@pytest.fixture(scope="module")
def ring_runs(tmp_path_factory):
    """ring8/gmm's three seeds (a few seconds) and the quick suite's table over them."""
    root = tmp_path_factory.mktemp("ring")
    bench("quick", runs=root / "runs", leaderboards=root / "lb", plots=False, quiet=True, recipes=RING)
    return root


@pytest.fixture
def runs(ring_runs, tmp_path):
    shutil.copytree(ring_runs / "runs", tmp_path / "runs")
    return tmp_path / "runs"


def record_path(runs, seed=0):
    return runs / RING / f"seed{seed}" / "record.json"


def variant(tmp_path, old="components = 8", new="components = 3"):
    """ring8/gmm with another number of components, as a file outside baselines/ at .../ring8/gmm.toml."""
    text = load_recipe(RING).path.read_text()
    assert old in text
    path = tmp_path / "elsewhere" / "ring8" / "gmm.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace(old, new))
    return path


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# -- a recipe file outside baselines/ borrows an id; it never takes over a real run's record


def test_a_recipe_file_outside_baselines_does_not_replace_a_real_runs_record(cli, runs, tmp_path):
    path = variant(tmp_path)
    mine, theirs = load_recipe(path), load_recipe(RING)
    assert mine.id == RING and mine.hash != theirs.hash
    before = folder_bytes(record_path(runs).parent)
    code, _, err = cli("train", path, "--seed", 0, "--runs", runs, "--threads", 1, "-q")
    assert_one_line_error(code, err, theirs.hash, mine.hash, "another --runs", str(record_path(runs).parent))
    assert folder_bytes(record_path(runs).parent) == before  # record and checkpoint untouched
    code, _, err = cli("train", path, "--seed", 0, "--runs", tmp_path / "other", "--threads", 1, "-q")
    assert code == 0, err
    own = json.loads(record_path(tmp_path / "other").read_text())
    assert own["recipe_hash"] == mine.hash and own["recipe_file"] == str(path.resolve())
    # Its own record it may replace (same hash: same numbers); the baselines recipe may not replace it.
    assert cli("train", path, "--seed", 0, "--runs", tmp_path / "other", "--threads", 1, "-q")[0] == 0
    code, _, err = cli("train", RING, "--seed", 0, "--runs", tmp_path / "other", "--threads", 1, "-q")
    assert_one_line_error(code, err, mine.hash, theirs.hash, str(path.resolve()))
    with pytest.raises(GenbenchError, match=mine.hash):
        bench("quick", runs=tmp_path / "other", leaderboards=tmp_path / "lb", plots=False, quiet=True, recipes=RING)
    assert json.loads(record_path(tmp_path / "other").read_text())["recipe_hash"] == mine.hash
    # The same file edited: its own record is stale, and replaced as a baselines recipe's is.
    path.write_text(path.read_text().replace("components = 3", "components = 4"))
    assert cli("train", path, "--seed", 0, "--runs", tmp_path / "other", "--threads", 1, "-q")[0] == 0
    assert json.loads(record_path(tmp_path / "other").read_text())["recipe_hash"] == load_recipe(path).hash


def test_a_baselines_recipe_still_reruns_its_own_stale_record(cli, runs, tmp_path):
    """The recipe in baselines/ changed (here: a record of an older hash): bench and train redo it."""
    for seed in (0, 1):
        record = json.loads(record_path(runs, seed).read_text())
        record["recipe_hash"] = "0123456789ab"
        record_path(runs, seed).write_text(json.dumps(seal(record)))
    out = bench("quick", runs=runs, leaderboards=tmp_path / "lb", plots=False, quiet=True, recipes=RING)
    assert (out["ran"], out["skipped"]) == (2, 1)
    record = json.loads(record_path(runs).read_text())
    assert record["recipe_hash"] == load_recipe(RING).hash
    record["recipe_hash"] = "0123456789ab"
    record_path(runs).write_text(json.dumps(seal(record)))
    assert cli("train", RING, "--seed", 0, "--runs", runs, "--threads", 1, "-q")[0] == 0
    assert json.loads(record_path(runs).read_text())["recipe_hash"] == load_recipe(RING).hash


# -- ids stay inside baselines/, run folders inside --runs


def test_a_recipe_id_that_reaches_outside_baselines_is_refused(cli, tmp_path):
    target = tmp_path / "x" / "trav"
    target.parent.mkdir()
    target.with_suffix(".toml").write_text(load_recipe(RING).path.read_text())
    for recipe_id in (os.path.relpath(target, REPO / "baselines"), str(target)):
        code, _, err = cli("train", recipe_id, "--runs", tmp_path / "R", "--threads", 1, "-q")
        assert_one_line_error(code, err, "outside the baselines folder")
    assert not (tmp_path / "R").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["trav.toml", "x"]


def test_a_run_folder_never_lies_outside_runs(tmp_path):
    recipe = load_recipe(RING)
    for bad in ("../../escape", "/abs/escape"):
        with pytest.raises(GenbenchError, match="outside --runs"):
            run_dir(tmp_path / "runs", dataclasses.replace(recipe, id=bad), 0)
    assert load_recipe("ring8/../ring8/gmm").id == RING  # one id per file


# -- records are checked where they are read: gate, leaderboard and site refuse by name


def set_metric(key, value):
    def edit(record):
        record["metrics"][key] = value
        return record
    return edit


def drop_digest(record):
    record.pop("digest")
    return record


READERS = {"gate": lambda root, runs, out: ("gate", "--baseline", root / "lb/quick.csv", "--results", runs),
           "leaderboard": lambda root, runs, out: ("leaderboard", "quick", "--runs", runs, "--leaderboards", out,
                                                   "--no-plots"),
           "site": lambda root, runs, out: ("site", "--runs", runs, "--leaderboards", out)}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("edit, needle", [(set_metric("nll", -50.0), "does not match its digest"),
                                          (set_metric("modes", 999), "does not match its digest"),
                                          (drop_digest, "has no digest")], ids=["nll", "modes", "no-digest"])
def test_a_hand_edited_record_is_refused(cli, ring_runs, runs, tmp_path, reader, edit, needle):
    path = record_path(runs, 1)
    path.write_text(json.dumps(edit(json.loads(path.read_text())), indent=2))
    code, _, err = cli(*READERS[reader](ring_runs, runs, tmp_path / "out"))
    assert_one_line_error(code, err, str(path), needle)
    assert not (tmp_path / "out").exists()


def not_json(path):
    path.write_text('{"recipe": "ring8/gmm", "metr')


def a_folder(path):
    path.unlink()
    path.mkdir()


def a_list(path):
    path.write_text("[1, 2]")


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("damage, needle", [(not_json, "cannot be read"), (a_folder, "is a folder"),
                                            (a_list, "not a genbench run record")])
def test_a_corrupt_record_is_named_not_skipped_as_not_yet_run(cli, ring_runs, runs, tmp_path, reader, damage, needle):
    path = record_path(runs, 2)
    damage(path)
    code, _, err = cli(*READERS[reader](ring_runs, runs, tmp_path / "out"))
    assert_one_line_error(code, err, str(path), needle)
    assert not (tmp_path / "out").exists()


def test_a_sealed_record_reads_back(cli, ring_runs, runs, tmp_path):
    code, out, err = cli(*READERS["leaderboard"](ring_runs, runs, tmp_path / "out"))
    assert code == 0, err
    assert "ring8/gmm" in (tmp_path / "out/quick.md").read_text()
    assert cli(*READERS["gate"](ring_runs, runs, tmp_path / "out"))[0] == 0


# -- the baseline table is validated before the gate trusts it


def duplicated(frame):
    import pandas as pd

    return pd.concat([frame, frame.assign(nll=frame["nll"] - 10)])


def set_column(column, value):
    def edit(frame):
        frame[column] = value
        return frame
    return edit


@pytest.mark.parametrize("edit, needles", [
    (duplicated, ("recipe 'ring8/gmm' has 2 rows", "lines 2 and 3")),
    (set_column("nll_std", -0.5), ("'nll_std'", "negative")),
    (set_column("n_seeds", 0), ("'n_seeds'", "a whole number >= 1")),
    (set_column("n_seeds", 2.5), ("'n_seeds'", "a whole number >= 1")),
], ids=["duplicate row", "negative std", "zero seeds", "fractional seeds"])
@pytest.mark.parametrize("side", ["--baseline", "--results"])
def test_a_bad_table_is_refused_in_one_line(cli, ring_runs, tmp_path, edit, needles, side):
    import pandas as pd

    table = tmp_path / "table.csv"
    edit(pd.read_csv(ring_runs / "lb/quick.csv")).to_csv(table, index=False)
    good = ring_runs / "lb/quick.csv"
    baseline, results = (table, good) if side == "--baseline" else (good, table)
    code, _, err = cli("gate", "--baseline", baseline, "--results", results)
    assert_one_line_error(code, err, str(table), *needles)


def test_results_holding_one_recipe_under_two_hashes_are_refused(cli, ring_runs, runs):
    """A seed left from an older recipe beside the current ones: which row would the gate compare?"""
    record = json.loads(record_path(runs, 2).read_text())
    record["recipe_hash"] = "0123456789ab"
    record_path(runs, 2).write_text(json.dumps(seal(record)))
    code, _, err = cli("gate", "--baseline", ring_runs / "lb/quick.csv", "--results", runs)
    assert_one_line_error(code, err, "ring8/gmm", "0123456789ab", load_recipe(RING).hash)
