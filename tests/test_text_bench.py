"""The text suite end to end: a recipe of the committed text leaderboard, rerun, passes the gate."""

import shutil

import pytest

from genbench.api import bench, gate, leaderboard
from tests.conftest import REPO


@pytest.mark.slow
def test_oracle_ngram_reproduces_the_committed_text_leaderboard(tmp_path):
    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "suites.toml").write_text('[one]\nrecipes = ["oracle/ngram"]\n')
    out = bench("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=baselines, quiet=True)
    assert out["ran"] == 3
    assert (tmp_path / "lb/one/oracle--ngram.png").is_file()  # the temperature-sweep plot ...
    assert (tmp_path / "runs/oracle/ngram/seed0/sweep.json").is_file()  # ... drawn from the run's sweep data
    page = leaderboard("one", runs=tmp_path / "runs", leaderboards=tmp_path / "lb", baselines=baselines,
                       html=True)["html"].read_text()
    assert page.count('<svg class="tradeoff"') == 1 and page.count("<polyline") == 1 and page.count("<circle") == 6
    result = gate(baseline=str(REPO / "leaderboards/text.csv"), results=str(tmp_path / "runs"), recipes="oracle/ngram")
    assert result.passed, result.report()
    checked = {c.metric for c in result.comparisons if c.recipe == "oracle/ngram"}
    assert {"perplexity", "nll_oracle", "bleu4", "self_bleu4", "distinct2"} <= checked
