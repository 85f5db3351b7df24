"""Recipes are validated on load and hashed on what sets the numbers."""

import pytest

from genbench.errors import GenbenchError
from genbench.recipes import list_recipes, load_recipe, load_suite
from tests.conftest import REPO

GOOD = """
version = 1
dataset = "grid25"
seeds = [0, 1]
[model]
name = "gmm"
components = 4
[train]
steps = 10
[score]
metrics = ["nll", "coverage"]
"""


def write(tmp_path, text, name="r.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_every_committed_recipe_and_suite_loads():
    ids = list_recipes()
    assert {"ring8/gmm", "grid25/gmm", "digits/gmm"} <= set(ids)
    for rid in ids:
        r = load_recipe(rid)
        assert r.id == rid and len(r.hash) == 12
    _, recipes = load_suite("quick")
    assert [r.id for r in recipes][:2] == ["ring8/gmm", "grid25/gmm"]


def test_hash_tracks_numbers_not_seeds_or_description(tmp_path):
    base = load_recipe(write(tmp_path, GOOD))
    same = load_recipe(write(tmp_path, GOOD.replace("seeds = [0, 1]", 'seeds = [5]\ndescription = "x"\ndevice = "cpu"'), "b.toml"))
    changed = load_recipe(write(tmp_path, GOOD.replace("components = 4", "components = 5"), "c.toml"))
    assert base.hash == same.hash
    assert base.hash != changed.hash


@pytest.mark.parametrize("edit, needle", [
    (lambda t: "foo = 1\n" + t, "unknown recipe key 'foo'"),
    (lambda t: t.replace('"grid25"', '"grid52"'), "unknown dataset 'grid52'"),
    (lambda t: t.replace('name = "gmm"', 'name = "gnm"'), "unknown model 'gnm'"),
    (lambda t: t.replace('"coverage"', '"coverge"'), "unknown metric 'coverge'"),
    (lambda t: t.replace("components = 4", "component = 4"), "unknown model 'gmm' parameter 'component'"),
    (lambda t: t.replace("components = 4", 'components = "4"'), "'components' must be int"),
    (lambda t: t.replace("steps = 10", "stpes = 10"), "[train] parameter 'stpes'"),
    (lambda t: t.replace("version = 1", ""), "missing required key 'version'"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = []"), "'seeds' must be"),
    (lambda t: t.replace("[model]", "[model"), "not valid TOML"),
    (lambda t: 'device = "tpu"\n' + t, "unknown device 'tpu'"),
    (lambda t: t + "\nfoo = 1\n", "unknown [score] key 'foo'"),
    (lambda t: t + "\nsamples = 300\n", "unknown [score] key 'samples'; valid [score] keys: curve_every, eval_batch_size, eval_every, eval_iters, "
                                         "extractor, metrics, n_samples (did you mean 'n_samples'?)"),
])
def test_bad_recipes_are_refused_with_the_culprit_named(tmp_path, edit, needle):
    with pytest.raises(GenbenchError) as e:
        load_recipe(write(tmp_path, edit(GOOD)))
    assert needle in str(e.value)
    assert "valid" in str(e.value) or "must" in str(e.value) or "missing" in str(e.value) or "TOML" in str(e.value)


def test_unknown_recipe_id_suggests_the_closest():
    with pytest.raises(GenbenchError) as e:
        load_recipe("grid25/gmn")
    assert "did you mean 'grid25/gmm'" in str(e.value)


def test_unknown_suite_is_refused():
    with pytest.raises(GenbenchError) as e:
        load_suite("quik")
    assert "did you mean 'quick'" in str(e.value)


GPU_RECIPES = {r for suite in ("gpu", "gpu-full") for r in load_suite(suite)[0]["recipes"]}  # their data is not offline: see test_gpu_recipes.py
GPU_RECIPES |= set(load_suite("text-gpu")[0]["recipes"])  # 200 x 64 validation windows of a 10M GPT: see test_nanogpt.py


@pytest.mark.slow
@pytest.mark.parametrize("recipe_id", [r for r in list_recipes() if r not in GPU_RECIPES])
def test_every_recipe_runs_two_steps_end_to_end(tmp_path, monkeypatch, recipe_id):
    """A recipe that cannot train or score fails here, not after an hour of `bench full`. What is tested
    is the code path, so an image dataset whose files this machine lacks (Fashion-MNIST without Debian's
    package) is replaced by a generated stand-in of its shape."""
    import dataclasses
    import math

    from genbench.runs import run_recipe
    from tests.stand_ins import SHAPES, files_present, use_stand_in

    recipe = load_recipe(recipe_id)
    if recipe.dataset in SHAPES and not files_present(recipe.dataset):
        use_stand_in(monkeypatch, recipe.dataset)
    # val-loss's mean over every window is a forward pass per start: every 5000th here (the code path)
    evals = {**recipe.eval_options, "eval_every": 5000} if recipe.eval_options else {}
    short = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=2, checkpoint_every=1), n_samples=500,
                                eval_options=evals)
    record = run_recipe(short, 0, runs=tmp_path, device="cpu", progress=False)
    assert record["train"]["steps"] <= 2 and record["metrics"]
    assert all(math.isfinite(v) for v in record["metrics"].values())


@pytest.mark.parametrize("table", ["quick", "full", "text", "pacgan", "nanogpt"])
def test_committed_tables_match_their_recipes_hashes(table):
    """A committed leaderboard is valid only while its recipes' hashes are unchanged: renaming
    [score] samples to n_samples (hashed under its old key) left every hash as it was."""
    import pandas as pd

    rows = pd.read_csv(REPO / "leaderboards" / f"{table}.csv")
    assert len(rows) > 0
    assert {rid: load_recipe(rid).hash for rid in rows["recipe"]} == dict(zip(rows["recipe"], rows["recipe_hash"], strict=True))


@pytest.mark.parametrize("table", ["gpu", "conv"])
def test_the_gpu_and_conv_tables_are_stale_only_where_a_recipe_was_versioned_past_it(table):
    """gpu.md is regenerated only on a lent GPU (tools/gpu-suite.sh), conv.md only by a run of
    hours (issue 34 item 4): until then a row whose recipe changed must show an older version than
    the recipe file, never the current version's label."""
    import pandas as pd

    rows = pd.read_csv(REPO / "leaderboards" / f"{table}.csv")
    for row in rows.to_dict("records"):
        recipe = load_recipe(row["recipe"])
        if recipe.hash != row["recipe_hash"]:
            assert int(row["recipe_version"]) < recipe.version, row["recipe"]
