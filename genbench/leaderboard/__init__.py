"""Leaderboards: derived from the runs folder alone (run records and the plot artefacts beside
them, genbench.artefacts), written atomically as Markdown + CSV + plots, and as a static site
(genbench.leaderboard.site). The same rows (records.aggregate) feed every output.

A suite with `keep_records = true` (baselines/suites.toml) also keeps what it shows in the
leaderboards folder, to be committed: each current run's record.json (with its learning curve) and
the first seed's plot artefact, under <out>/<suite>/records/<recipe id>/seed<N>/, never a
checkpoint. Building its leaderboard first copies the runs folder's current records there, then
reads each run from the runs folder or, where it has none, from the kept copy: so the table grows
as seeds finish, on any machine, and a fresh clone rebuilds it without the runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from genbench import artefacts
from genbench.errors import GenbenchError
from genbench.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from genbench.leaderboard.plots import plot_name
from genbench.leaderboard.published import attach_published
from genbench.leaderboard.records import aggregate
from genbench.leaderboard.table import to_csv, to_markdown
from genbench.recipes import load_suite
from genbench.runs import current_record, failure, run_dir, stale_record


@dataclass
class Board:
    """What a suite's leaderboard shows, read from the runs folder."""

    suite: str
    description: str
    recipes: list
    records: list[dict]
    frame: pd.DataFrame  # one row per recipe, in the suite's order
    missing: list[str]  # recipes short of seeds, with the reasons of failed ones
    artefacts: dict[str, Path]  # recipe id -> its first seed's plot artefact
    kept: Path | None = None  # where the suite keeps its records (keep_records), if it does
    stale: list[tuple[str, int, str]] = field(default_factory=list)  # (recipe, seed, why) of records left out


def output_order(recipes) -> list[str]:
    """Columns in the order the recipes name their metrics, each metric's outputs as declared."""
    from genbench.metrics import METRICS

    names: list[str] = []
    for r in recipes:
        names += [m for m in (r.metrics or METRICS.names()) if m not in names]
    return [o.key for n in names for o in METRICS.get(n).outputs]


def run_artefact(runs: str | Path, recipe) -> Path | None:
    """The plot artefact of a recipe's first seed, if that run is recorded; a run recorded before
    runs wrote artefacts gets it drawn here from its checkpoint, once, and stored beside its record."""
    from genbench.checkpoint import load_checkpoint
    from genbench.data import load_dataset

    seed = recipe.seeds[0]
    if current_record(runs, recipe, seed) is None:
        return None
    folder = run_dir(runs, recipe, seed)
    if (found := artefacts.find(folder)) is not None:
        return found
    if not (folder / "model.safetensors").is_file():
        return None
    try:
        model, _ = load_checkpoint(folder / "model.safetensors")
    except GenbenchError:
        return None
    return artefacts.draw(folder, model, load_dataset(recipe.dataset, recipe.dataset_params),
                          artefacts.title(recipe.id, seed))


def kept_folder(suite: str, info: dict, out: str | Path) -> Path | None:
    """Where a suite with `keep_records` keeps its runs' records and artefacts."""
    return Path(out) / suite / "records" if info.get("keep_records") else None


def keep_records(recipes, runs: str | Path, kept: Path) -> int:
    """Copy the current records (and first seeds' artefacts) of the runs folder into `kept`; how many."""
    copied = 0
    for recipe in recipes:
        for seed in recipe.seeds:
            record = current_record(runs, recipe, seed)
            if record is None:
                continue
            atomic_write_json(run_dir(kept, recipe, seed) / "record.json", record)
            copied += 1
            if seed == recipe.seeds[0] and (found := artefacts.find(run_dir(runs, recipe, seed))) is not None:
                atomic_write_bytes(run_dir(kept, recipe, seed) / found.name, found.read_bytes())
    return copied


def collect(suite: str, runs: str | Path = "runs", baselines: str | Path | None = None, plots: bool = True,
            allow_empty: bool = False, out: str | Path = "leaderboards") -> Board:
    """A suite's leaderboard from the records of its current recipes (and, with `plots`, their
    artefacts); a suite that keeps its records reads there a run the runs folder lacks."""
    info, recipes = load_suite(suite, baselines)
    kept = kept_folder(suite, info, out)
    records, missing, stale = [], [], []
    for recipe in recipes:
        found = [r for s in recipe.seeds
                 if (r := current_record(runs, recipe, s) or (kept and current_record(kept, recipe, s))) is not None]
        if len(found) < len(recipe.seeds):
            failed = {s: why for s in recipe.seeds if (why := failure(runs, recipe, s)) is not None}
            old = stale_seeds(recipe, [r["seed"] for r in found], [runs] + [k for k in [kept] if k is not None])
            stale += [(recipe.id, s, why) for s, why in old.items()]
            missing.append(f"{recipe.id} ({len(recipe.seeds) - len(found)} of {len(recipe.seeds)} seeds)" +
                           "".join(f"; seed {s} failed: {why}" for s, why in failed.items()) +
                           "".join(f"; seed {s}: {why}" for s, why in old.items() if s not in failed))
        records += found
    if not records and not allow_empty:
        raise GenbenchError(f"no run records for suite {suite!r} under {runs}; run `genbench bench {suite}` first "
                            "(or pass --allow-empty to write a table that says it has not been run)")
    frame = aggregate(records, metric_order=output_order(recipes))
    order = {r.id: i for i, r in enumerate(recipes)}  # the suite's order, so datasets come as listed
    frame = frame.sort_values("recipe", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    frame = attach_published(frame, recipes)
    found = {r.id: a for r in recipes if plots and (a := run_artefact(runs, r) or (
        kept and current_record(kept, r, r.seeds[0]) and artefacts.find(run_dir(kept, r, r.seeds[0])))) is not None}
    return Board(suite, info.get("description", ""), recipes, records, frame, missing, found, kept, stale)


def stale_seeds(recipe, current: list[int], folders: list[Path]) -> dict[int, str]:
    """seed -> why, for each seed without a current record whose record is of an older recipe (its
    hash differs: `current_record` leaves it out), so the page says the seed ran but no longer counts."""
    out = {}
    for seed in [s for s in recipe.seeds if s not in current]:
        if (old := next((r for f in folders if (r := stale_record(f, recipe, seed)) is not None), None)) is not None:
            out[seed] = (f"its record was made by recipe version {old.get('recipe_version', '?')}, hash "
                         f"{old['recipe_hash']}; the recipe is now version {recipe.version}, hash {recipe.hash}: "
                         "stale, left out")
    return out


def recipes_run(suite: str, runs: str | Path, baselines: str | Path | None, out: str | Path) -> tuple[int, int]:
    """(how many of a suite's recipes have a current run record, how many it has): a recipe has a row
    on its page exactly when it has one (collect), so the index says how much of the suite ran."""
    info, recipes = load_suite(suite, baselines)
    folders = [runs] + [k for k in [kept_folder(suite, info, out)] if k is not None]
    ran = sum(any(current_record(f, r, s) is not None for f in folders for s in r.seeds) for r in recipes)
    return ran, len(recipes)


def run_counts(runs: str | Path, out: str | Path, baselines: str | Path | None = None) -> dict[str, tuple[int, int]]:
    """suite -> `recipes_run`, for every suite of the suites file."""
    from genbench.recipes import load_suites

    return {suite: recipes_run(suite, runs, baselines, out) for suite in load_suites(baselines)}


def curve_images(board: Board) -> dict[str, bytes]:
    """recipe id -> the PNG of its runs' learning curves, for recipes whose records hold one."""
    from genbench.figures.curves import curve_figure

    images = {}
    for recipe in board.recipes:
        png = curve_figure(f"{recipe.id}: learning curves", [r for r in board.records if r["recipe"] == recipe.id])
        if png is not None:
            images[recipe.id] = png
    return images


def plot_images(board: Board) -> dict[str, bytes]:
    """recipe id -> its PNG plot: the sample plot as the run wrote it, or the curve of its sweep data."""
    from genbench.figures.tradeoff import sweep_figure

    return {rid: sweep_figure(artefacts.read_sweep(path)) if path.name == artefacts.SWEEP else path.read_bytes()
            for rid, path in board.artefacts.items()}


def build_leaderboard(suite: str, runs: str | Path = "runs", out: str | Path = "leaderboards",
                      baselines: str | Path | None = None, plots: bool = True, allow_empty: bool = False,
                      html: bool = False) -> dict:
    """Rebuild <out>/<suite>.md and .csv (and plots under <out>/<suite>/) from the runs folder alone;
    with `html`, its page of the site under <out>/site/ too."""
    info, recipes = load_suite(suite, baselines)
    if (kept := kept_folder(suite, info, out)) is not None:
        keep_records(recipes, runs, kept)
    board = collect(suite, runs, baselines, plots, allow_empty, out)
    out = Path(out)
    images = plot_images(board)
    plot_links, curve_links = {}, {}
    for rid, png in images.items():
        plot_links[rid] = f"{suite}/{plot_name(rid)}"
        atomic_write_bytes(out / plot_links[rid], png)
    for rid, png in (curve_images(board) if plots else {}).items():
        curve_links[rid] = f"{suite}/{plot_name(rid).removesuffix('.png')}--curve.png"
        atomic_write_bytes(out / curve_links[rid], png)
    csv_path, md_path = out / f"{suite}.csv", out / f"{suite}.md"
    atomic_write_text(csv_path, to_csv(board.frame))
    atomic_write_text(md_path, to_markdown(board.frame, suite, board.description, board.records, plot_links,
                                           board.missing, curve_links, board.stale))
    result = {"markdown": md_path, "csv": csv_path, "rows": len(board.frame), "records": len(board.records),
              "missing": board.missing}
    if html:
        from genbench.leaderboard.site import write_index, write_page

        result["html"] = write_page(board, images, out / "site")
        write_index(out / "site", run_counts(runs, out, baselines), baselines)
    return result


def build_site(runs: str | Path = "runs", out: str | Path = "leaderboards",
               baselines: str | Path | None = None) -> dict:
    """<out>/site/: a page per suite that has run records, and an index of them."""
    from genbench.leaderboard.site import write_index, write_page

    site, pages, counts = Path(out) / "site", [], run_counts(runs, out, baselines)
    for suite, (ran, _) in counts.items():
        if ran:
            board = collect(suite, runs, baselines, out=out)
            pages.append(write_page(board, plot_images(board), site))
    if not pages:
        raise GenbenchError(f"no run records for any suite under {runs}; run `genbench bench SUITE` first")
    return {"index": write_index(site, counts, baselines), "pages": pages}
