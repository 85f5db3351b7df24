"""The Markdown report: one table per dataset with only its columns, and the mode-collapse section."""

from genbench.leaderboard.modes import mode_report
from genbench.leaderboard.records import aggregate
from genbench.leaderboard.table import to_markdown


def record(recipe, seed, metrics, n_modes=None):
    dataset = recipe.split("/")[0]
    info = {"coverage": {"n_modes": n_modes}} if n_modes else {}
    return {"recipe": recipe, "recipe_hash": "h" + recipe, "seed": seed, "dataset": dataset, "model": recipe.split("/")[1],
            "metrics": metrics, "score": {"info": info, "samples": 2500}, "train": {"wall_time_s": 1.0}}


RECORDS = [
    record("grid25/gmm", s, {"nll": 0.06, "modes": 25}, 25) for s in range(3)
] + [
    record("grid25/gan", s, {"modes": m}, 25) for s, m in enumerate([25, 19, 22])
] + [
    record("digits/vae", s, {"nll": 120.0 + s, "fid@digits-cnn": 10.0 + s}) for s in range(3)
]


def test_mode_report_names_the_collapsing_recipe_and_its_worst_seed():
    text = "\n".join(mode_report(RECORDS))
    assert "**grid25** (25 modes)" in text
    gan = next(line for line in text.splitlines() if "`grid25/gan`" in line)
    assert "seed 1: 19 of 25" in gan and "| 19 of 25 |" in gan and "misses up to 6 modes" in gan
    gmm = next(line for line in text.splitlines() if "`grid25/gmm`" in line)
    assert "all modes in every seed" in gmm
    assert "digits" not in text  # no known modes, no report


def test_no_mode_metric_means_no_report():
    assert mode_report([r for r in RECORDS if r["dataset"] == "digits"]) == []


def test_markdown_has_one_table_per_dataset_with_its_own_columns():
    md = to_markdown(aggregate(RECORDS), "t", "", RECORDS, {}, [])
    grid = md.split("## grid25")[1].split("## ")[0]
    digits = md.split("## digits")[1].split("## ")[0]
    assert "modes ↑" in grid and "fid@digits-cnn" not in grid
    assert "fid@digits-cnn ↓" in digits and "modes" not in digits
    assert "20.0000" not in md and "11.0000 ± 1.0000" in digits  # mean ± std of 10, 11, 12


def test_a_seed_without_a_value_leaves_the_rows_value_missing():
    """One seed's FID unscored (its samples overflowed) or NaN: the row shows no mean, rather than the
    other seeds' mean standing for all three."""
    for hole in ({"nll": 121.0}, {"nll": 121.0, "fid@digits-cnn": None}):
        records = [record("digits/vae", s, {"nll": 120.0 + s, "fid@digits-cnn": 10.0 + s}) for s in (0, 2)]
        records.insert(1, record("digits/vae", 1, hole))
        row = aggregate(records).iloc[0]
        assert row["nll"] == 121.0 and row["nll_std"] == 1.0
        assert row.isna()["fid@digits-cnn"] and row.isna()["fid@digits-cnn_std"]
        digits = to_markdown(aggregate(records), "t", "", records, {}, []).split("## digits")[1]
        assert "11.0000" not in digits and "| 121.0000 ± 1.0000 | – |" in digits
