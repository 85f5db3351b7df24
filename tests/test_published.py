"""A row read against several references: [published] and its [[published.also]] tables (e.g. the
paper's figure and the paper's own code measured here), each its own line with its own z."""

import math

import pytest

from genbench.leaderboard.published import attach_published
from genbench.leaderboard.records import aggregate, metric_columns
from genbench.leaderboard.table import to_csv, to_markdown
from genbench.recipes import load_recipe
from tests.conftest import assert_one_line_error
from tests.test_pacgan import PUBLISHED_RECIPE, records

ALSO = PUBLISHED_RECIPE + """
[[published.also]]
source = "The paper's code"
table = "run here"
trials = 3
spread = "standard deviation"
protocol = "same machine"
[published.also.values]
modes = {value = 7.5, spread = 0.5}
"""


def test_each_reference_is_its_own_line_with_its_own_z(tmp_path):
    (tmp_path / "ring8").mkdir()
    path = tmp_path / "ring8" / "p.toml"
    path.write_text(ALSO)
    recipe = load_recipe(path, baselines=tmp_path)
    assert [r.source for r in recipe.references()] == ["A paper", "The paper's code"]
    frame = attach_published(aggregate(records(recipe)), [recipe])
    row = frame.iloc[0]
    assert row["modes_z"] == pytest.approx((7 - 6) / math.sqrt(1 / 3 + 1))  # the first, unchanged
    se2 = 0.5 / math.sqrt(3)
    assert row["modes_published_2"] == 7.5 and row["modes_published_se_2"] == pytest.approx(se2)
    assert row["modes_z_2"] == pytest.approx((7 - 7.5) / math.sqrt(1 / 3 + se2 ** 2))
    assert row["published_2"].startswith("The paper's code, run here (3 trials")
    assert metric_columns(frame) == ["modes", "hq_fraction", "reverse_kl"]  # the gate sees only metrics
    assert "modes_z_2" in to_csv(frame)
    lines = [ln for ln in to_markdown(frame, "t", "", records(recipe), {}, []).splitlines()
             if ln.startswith("| ↳ published")]
    assert len(lines) == 2 and "A paper" in lines[0] and "The paper's code" in lines[1]
    assert "this run: same machine" in lines[1] and f"(z = {row['modes_z_2']:+.1f})" in lines[1]


def test_without_also_there_is_one_line(tmp_path):
    (tmp_path / "ring8").mkdir()
    (tmp_path / "ring8" / "p.toml").write_text(PUBLISHED_RECIPE)
    recipe = load_recipe(tmp_path / "ring8" / "p.toml", baselines=tmp_path)
    frame = attach_published(aggregate(records(recipe)), [recipe])
    assert "published_2" not in frame.columns and len(recipe.references()) == 1


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.replace("[[published.also]]", "[published.also]"), "'also' must be a list of tables"),
    (lambda t: t.replace('table = "run here"\n', ""), "[[published.also]] #1 missing required key 'table'"),
    (lambda t: t.replace("modes = {value = 7.5", "mode = {value = 7.5"), "unknown metric output 'mode'"),
])
def test_malformed_further_reference_is_a_one_line_error(cli, tmp_path, edit, needle):
    path = tmp_path / "r.toml"
    path.write_text(edit(ALSO))
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "runs").exists()
