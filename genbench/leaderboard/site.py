"""The leaderboards as a static site: an index of suites and a page per suite, plain HTML + CSS +
a little JavaScript (sorting, per-seed rows, enlarging a plot), no build step and nothing fetched,
so it opens from disk. Rendered by Jinja2 with autoescaping on: recipe names and descriptions
are user text. The rows are the Markdown's and the CSV's (a Board, genbench.leaderboard)."""

from __future__ import annotations

import math
from pathlib import Path

from genbench.io import atomic_write_bytes, atomic_write_text
from genbench.leaderboard.modes import mode_table
from genbench.leaderboard.plots import plot_name
from genbench.leaderboard.records import metric_columns
from genbench.leaderboard.table import (FLAG, cell, flagged_rows, provenance, published_cell, references,
                                        unscored_runs)
from genbench.metrics import output_spec

TEMPLATES = Path(__file__).with_name("templates")
STATIC = ("site.css", "site.js")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _number(x) -> str:
    """A value as the CSV writes it (to_csv's float_format), empty when missing."""
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.8g}"


def _seed_values(records: list[dict]) -> dict[str, list[tuple[int, dict]]]:
    out: dict[str, list[tuple[int, dict]]] = {}
    for r in sorted(records, key=lambda r: r["seed"]):
        out.setdefault(r["recipe"], []).append((r["seed"], r["metrics"]))
    return out


def dataset_tables(board, images: dict[str, bytes]) -> list[dict]:
    """Per dataset, the columns it measured and one entry per recipe, for the template."""
    seeds = _seed_values(board.records)
    described = {r.id: r.description for r in board.recipes}
    metrics = metric_columns(board.frame)
    flags = page_flags(board)
    tables = []
    for dataset, frame in board.frame.groupby("dataset", sort=False) if len(board.frame) else []:
        present = [m for m in metrics if frame[m].notna().any()]
        columns = [{"key": m, "arrow": output_spec(m).arrow, "direction": output_spec(m).direction,
                    "description": output_spec(m).description} for m in present]
        rows = []
        for row in frame.to_dict("records"):
            per_seed = seeds.get(row["recipe"], [])
            cells = [{"key": m, "value": _number(row.get(m)), "text": cell(row.get(m), row.get(f"{m}_std")),
                      "title": ", ".join(f"seed {s}: {_number(v.get(m)) or '–'}" for s, v in per_seed)}
                     for m in present]
            published = [{"label": row[f"published{s}"], "protocol": row.get(f"protocol{s}") or "",
                          "cells": [published_cell(row, m, s) for m in present]} for s in references(row)]
            rows.append({"recipe": row["recipe"], "model": row["model"], "description": described.get(row["recipe"], ""),
                         "flag": flags.get(row["recipe"]), "n_seeds": row["n_seeds"],
                         "train_s": f"{row['train_time_s']:.2f}", "cells": cells, "published": published,
                         "plot": f"{board.suite}/{plot_name(row['recipe'])}" if row["recipe"] in images else None,
                         "seeds": [{"seed": s, "numbers": [_number(v.get(m)) or "–" for m in present]}
                                   for s, v in per_seed]})
        tables.append({"dataset": dataset, "columns": columns, "rows": rows,
                       "tradeoff": tradeoff_chart(board, frame["recipe"].tolist())})
    return tables


def page_flags(board) -> dict[str, dict]:
    """recipe -> its footnote's number and reasons, for the rows `flagged_rows` flags (as the Markdown does)."""
    flagged = flagged_rows(board.frame, board.records, board.stale)
    return {rid: {"id": i, "why": why} for i, (rid, why) in enumerate(flagged.items(), 1)}


def tradeoff_chart(board, recipe_ids: list[str]) -> dict | None:
    """The temperature sweeps of a dataset's text recipes on one pair of axes (SVG coordinates)."""
    from genbench.artefacts import SWEEP, read_sweep

    sweeps = [(rid, read_sweep(board.artefacts[rid])) for rid in recipe_ids
              if rid in board.artefacts and board.artefacts[rid].name == SWEEP]
    if not sweeps:
        return None
    real = sweeps[0][1]["real"]  # the same training text for every recipe of the dataset
    xs = [p["self_bleu"] for _, s in sweeps for p in s["sweep"]] + [real[1]]
    ys = [p["bleu"] for _, s in sweeps for p in s["sweep"]] + [real[0]]
    width, height, pad = 520, 360, 48
    x0, x1 = _span(xs)
    y0, y1 = _span(ys)

    def at(x: float, y: float) -> tuple[float, float]:
        return (round(pad + (x - x0) / (x1 - x0) * (width - 2 * pad), 1),
                round(height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad), 1))

    curves = []
    for i, (rid, s) in enumerate(sweeps):
        points = [(*at(p["self_bleu"], p["bleu"]), p["temperature"]) for p in s["sweep"]]
        curves.append({"recipe": rid, "colour": PALETTE[i % len(PALETTE)], "points": points,
                       "path": " ".join(f"{x},{y}" for x, y, _ in points)})
    ticks_x = [(at(v, y0)[0], f"{v:g}") for v in _ticks(x0, x1)]
    ticks_y = [(at(x0, v)[1], f"{v:g}") for v in _ticks(y0, y1)]
    return {"width": width, "height": height, "pad": pad, "curves": curves, "real": at(real[1], real[0]),
            "ticks_x": ticks_x, "ticks_y": ticks_y}


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    margin = (hi - lo) * 0.08 or 1.0
    return lo - margin, hi + margin


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    step *= next(m for m in (1, 2, 5, 10) if (hi - lo) / (step * m) <= n)
    return [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def write_page(board, images: dict[str, bytes], site: Path) -> Path:
    """<site>/<suite>.html, its plots under <site>/<suite>/, and the stylesheet and script."""
    for rid, png in images.items():
        atomic_write_bytes(site / board.suite / plot_name(rid), png)
    _write_static(site)
    versions, hardware = provenance(board.records)
    metrics = metric_columns(board.frame)
    page = _environment().get_template("suite.html").render(
        suite=board.suite, description=board.description, tables=dataset_tables(board, images),
        modes=mode_table(board.records), unscored=unscored_runs(board.records), missing=board.missing,
        metrics=[(m, output_spec(m)) for m in metrics], recipes=board.frame.to_dict("records"),
        published="published" in board.frame.columns and board.frame["published"].notna().any(),
        versions=versions, hardware=hardware, has_records=bool(board.records), flags=page_flags(board), flag=FLAG)
    return atomic_write_text(site / f"{board.suite}.html", page)


def write_index(site: Path, counts: dict[str, tuple[int, int]], baselines=None) -> Path:
    """<site>/index.html: the suites whose pages the folder holds, in the suites file's order, each
    with how many of its recipes ran (counts: suite -> (recipes with run records, recipes))."""
    from genbench.recipes import load_suites

    suites = []
    for name, info in load_suites(baselines).items():
        if (site / f"{name}.html").is_file():
            ran, total = counts.get(name, (0, len(info["recipes"])))
            suites.append({"name": name, "description": info.get("description", ""), "ran": ran, "recipes": total})
    _write_static(site)
    return atomic_write_text(site / "index.html", _environment().get_template("index.html").render(suites=suites))


def _write_static(site: Path) -> None:
    for name in STATIC:
        atomic_write_bytes(site / name, (TEMPLATES / name).read_bytes())
