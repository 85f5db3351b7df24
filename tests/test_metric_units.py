"""Each metric output's unit and scale come from its one `Output` declaration, and every place that
shows a number says them: `list metrics` (with the description, direction and default gate
tolerance), `score`'s printed summary, `--help` of score and gate, and the leaderboards' notes."""

import numpy as np
import pytest

from genbench.cli.main import main
from genbench.metrics import OUTPUTS, output_spec


def test_every_output_declares_a_unit_and_a_scale():
    for key, spec in OUTPUTS.items():
        assert spec.unit and spec.scale > 0, key
    assert output_spec("kid@digits-cnn").units == ("MMD² of the extractor's features under the cubic kernel; "
                                                   "scale ×1 (as computed, not ×10³ as many papers print KID)")
    assert output_spec("corpus_bleu").scale == 100 and output_spec("nll").units == "nats per example; scale ×1"


def test_list_metrics_shows_description_direction_unit_and_tolerance(cli):
    code, out, _ = cli("list", "metrics")
    assert code == 0
    for key, spec in OUTPUTS.items():
        assert (f"    {key}: {spec.description}; {spec.direction} is better; unit: {spec.units}; "
                f"gate tolerance: {spec.default_tolerance}") in out
    assert "gate tolerance: max(0.02, 0.002 × |baseline|)" in out  # nll: absolute or relative, the larger


def test_score_summary_says_kid_is_not_scaled(cli, tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "g.npy", rng.normal(size=(60, 4)))
    np.save(tmp_path / "r.npy", rng.normal(size=(60, 4)) + 0.5)
    code, out, err = cli("score", "--features", tmp_path / "g.npy", "--reference-features", tmp_path / "r.npy",
                         "--metrics", "kid,fid")
    assert code == 0, err
    kid = next(ln for ln in out.splitlines() if ln.strip().startswith("kid@features"))
    assert kid.endswith(f"(lower is better; {output_spec('kid').units})") and "not ×10³" in kid


@pytest.mark.parametrize("command, tolerances", [("score", False), ("gate", True)])
def test_help_lists_units_and_scales(capsys, command, tolerances):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for key, spec in OUTPUTS.items():
        line = f"  {key} {spec.arrow}  {spec.units}" + (f"; tolerance {spec.default_tolerance}" if tolerances else "")
        assert line + "\n" in out


def test_leaderboard_metric_notes_give_unit_and_scale():
    from tests.test_leaderboard_report import RECORDS, aggregate, to_markdown

    md = to_markdown(aggregate(RECORDS), "t", "", RECORDS, {}, [])
    for m in ("nll", "modes", "fid@digits-cnn"):
        spec = output_spec(m)
        assert f"- `{m}` ({spec.direction} is better; {spec.units}): {spec.description}" in md
