"""Leaderboards: derived from run records alone, written atomically as Markdown + CSV + plots."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench.io import atomic_write_text
from genbench.leaderboard.published import attach_published
from genbench.leaderboard.records import aggregate
from genbench.leaderboard.table import to_csv, to_markdown
from genbench.recipes import load_suite
from genbench.runs import existing_record, failure, run_dir

PLOT_SAMPLES = 1000  # points in a scatter plot


def output_order(recipes) -> list[str]:
    """Columns in the order the recipes name their metrics, each metric's outputs as declared."""
    from genbench.metrics import METRICS

    names: list[str] = []
    for r in recipes:
        names += [m for m in (r.metrics or METRICS.names()) if m not in names]
    return [o.key for n in names for o in METRICS.get(n).outputs]


def plot_name(recipe_id: str) -> str:
    return recipe_id.replace("/", "--") + ".png"


def build_leaderboard(suite: str, runs: str | Path = "runs", out: str | Path = "leaderboards",
                      baselines: str | Path | None = None, plots: bool = True, allow_empty: bool = False) -> dict:
    """Rebuild <out>/<suite>.md and .csv from the records of the suite's current recipes."""
    from genbench.checkpoint import load_checkpoint
    from genbench.data import load_dataset
    from genbench.errors import GenbenchError
    from genbench.leaderboard.plots import GRID, write_sample_plot
    from genbench.leaderboard.tradeoff import write_tradeoff_plot
    from genbench.scoring import draw_samples

    info, recipes = load_suite(suite, baselines)
    records, missing = [], []
    for recipe in recipes:
        found = [r for s in recipe.seeds if (r := existing_record(runs, recipe, s)) is not None]
        if len(found) < len(recipe.seeds):
            failed = {s: why for s in recipe.seeds if (why := failure(runs, recipe, s)) is not None}
            missing.append(f"{recipe.id} ({len(recipe.seeds) - len(found)} of {len(recipe.seeds)} seeds)" +
                           "".join(f"; seed {s} failed: {why}" for s, why in failed.items()))
        records += found
    if not records and not allow_empty:
        raise GenbenchError(f"no run records for suite {suite!r} under {runs}; run `genbench bench {suite}` first "
                            "(or pass --allow-empty to write a table that says it has not been run)")
    frame = aggregate(records, metric_order=output_order(recipes))
    order = {r.id: i for i, r in enumerate(recipes)}  # the suite's order, so datasets come as listed
    frame = frame.sort_values("recipe", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    frame = attach_published(frame, recipes)
    out = Path(out)
    plot_links: dict[str, str] = {}
    if plots:
        for recipe in recipes:
            ckpt = run_dir(runs, recipe, recipe.seeds[0]) / "model.safetensors"
            if not ckpt.is_file() or existing_record(runs, recipe, recipe.seeds[0]) is None:
                continue
            try:
                model, _ = load_checkpoint(ckpt)
            except GenbenchError:
                continue
            dataset = load_dataset(recipe.dataset, recipe.dataset_params)
            rel = f"{suite}/{plot_name(recipe.id)}"
            if dataset.kind == "text":  # one text sample says little: plot the quality-diversity curve
                write_tradeoff_plot(out / rel, model, dataset, f"{recipe.id} (seed {recipe.seeds[0]})")
                plot_links[recipe.id] = rel
                continue
            n = PLOT_SAMPLES if dataset.kind == "points" else GRID
            samples = draw_samples(model, n, torch.Generator().manual_seed(0), progress=False)
            write_sample_plot(out / rel, samples, dataset, f"{recipe.id} (seed {recipe.seeds[0]})")
            plot_links[recipe.id] = rel
    csv_path, md_path = out / f"{suite}.csv", out / f"{suite}.md"
    atomic_write_text(csv_path, to_csv(frame))
    atomic_write_text(md_path, to_markdown(frame, suite, info.get("description", ""), records, plot_links, missing))
    return {"markdown": md_path, "csv": csv_path, "rows": len(frame), "records": len(records), "missing": missing}
