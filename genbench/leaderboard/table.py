"""Render an aggregated frame as the leaderboard's CSV and Markdown."""

from __future__ import annotations

import math

import pandas as pd

from genbench.env import hardware_label
from genbench.leaderboard.markdown import code, text
from genbench.leaderboard.published import suffix
from genbench.leaderboard.records import metric_columns
from genbench.metrics import output_spec


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cell(mean: float, std: float) -> str:
    if _missing(mean):
        return "–"
    if _missing(std):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {std:.4f}"


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.8g", lineterminator="\n")


def published_cell(row: dict, metric: str, s: str = "") -> str:
    value = row.get(f"{metric}_published{s}")
    if _missing(value):
        return ""
    z = row.get(f"{metric}_z{s}")
    return f"{value:.4g} ± {row[f'{metric}_published_se{s}']:.2g}" + ("" if _missing(z) else f" (z = {z:+.1f})")


def references(row: dict) -> list[str]:
    """The column suffixes of the references a row is read against, in order."""
    out, i = [], 0
    while not _missing(row.get(f"published{suffix(i)}")):
        out.append(suffix(i))
        i += 1
    return out


def published_lines(row: dict, metrics: list[str]) -> list[str]:
    """The published figures under a measured row, a line per reference, and how far the measurement is from each."""
    lines = []
    for s in references(row):
        protocol = row.get(f"protocol{s}")
        what = row[f"published{s}"] + (f"; this run: {protocol}" if isinstance(protocol, str) and protocol else "")
        lines.append("| " + " | ".join(["↳ published", what, ""] + [published_cell(row, m, s) for m in metrics]
                                       + ["", ""]) + " |")
    return lines


FLAG = "⚠"  # beside a recipe whose row does not stand for every seed as scored by the current recipe


def table_lines(frame: pd.DataFrame, metrics: list[str], plots: dict[str, str],
                curves: dict[str, str] | None = None, flags: dict[str, list[str]] | None = None) -> list[str]:
    header = ["recipe", "model", "seeds"] + [f"{m} {output_spec(m).arrow}" for m in metrics] + ["train s", "plot"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
    for row in frame.to_dict("records"):
        link = f"[plot]({plots[row['recipe']]})" if row["recipe"] in plots else "–"
        if row["recipe"] in (curves or {}):
            link += f" [curve]({curves[row['recipe']]})"
        name = code(row["recipe"]) + (f" {FLAG}" if row["recipe"] in (flags or {}) else "")
        cells = [name, text(row["model"]), text(row["n_seeds"])]
        cells += [cell(row.get(m), row.get(f"{m}_std")) for m in metrics]
        cells += [f"{row['train_time_s']:.2f}", link]
        lines.append("| " + " | ".join(cells) + " |")
        lines += published_lines(row, metrics)
    return lines


def to_markdown(frame: pd.DataFrame, suite: str, description: str, records: list[dict],
                plots: dict[str, str], missing: list[str], curves: dict[str, str] | None = None,
                stale: list[tuple[str, int, str]] = ()) -> str:
    from genbench.leaderboard.modes import mode_report

    metrics = metric_columns(frame)
    flags = flagged_rows(frame, records, stale)
    lines = [f"# Leaderboard: `{suite}`", ""]
    if description:
        lines += [description, ""]
    lines += [f"Mean ± sample std over seeds. ↑ higher is better, ↓ lower is better. "
              f"Regenerate with `genbench leaderboard {suite}`; never edit by hand.", ""]
    if not records:
        lines += ["**This suite has not been run yet**: no run record exists, so there are no numbers.", ""]
        lines += table_lines(frame, metrics, plots, curves)
    # One table per dataset, with the columns its recipes measured (numbers of different datasets
    # are never comparable, and a shared table would be mostly empty cells).
    for dataset, rows in frame.groupby("dataset", sort=False) if len(frame) else []:
        # A column its records measured, even where no row has a value (each with a seed unscored).
        measured = {k for r in records if r.get("dataset", "") == dataset for k in r["metrics"]}
        present = [m for m in metrics if rows[m].notna().any() or m in measured]
        lines += [f"## {text(dataset)}", ""] + table_lines(rows, present, plots, curves, flags) + [""]
    if "published" in frame.columns and frame["published"].notna().any():
        lines += ["**↳ published**: the figure a paper reports for the same setting, ± its standard error (a "
                  "standard deviation over its trials divided by √trials), and z = (measured mean − published) / "
                  "√(se² + se_published²), se = std / √seeds: |z| above 2 means the measurement and the paper "
                  "disagree by more than chance. *this run* says how the recipe's protocol relates to the paper's.", ""]
    if flags:
        lines += [f"**{FLAG} Flagged** (a row that does not stand for every seed as the current recipe scores it):", ""]
        lines += [f"- {code(recipe)}: {text('; '.join(why))}" for recipe, why in flags.items()] + [""]
    lines += mode_report(records)
    unscored = unscored_runs(records)
    if unscored:
        lines += ["", "**Not scored** (a '–' above where a metric could not be computed; the others stand):", ""]
        lines += [f"- {code(recipe)} seed {text(seed)}: {text(', '.join(metrics))}: {text(why)}"
                  for recipe, seed, metrics, why in unscored]
    lines += ["", "**Metrics** (`name@extractor`: computed on that feature extractor's features)", ""]
    for m in metrics:
        spec = output_spec(m)
        lines.append(f"- `{m}` ({spec.direction} is better; {spec.units}): {spec.description}")
    lines += ["", "**Recipes** (hash of everything that sets the numbers, and version)", ""]
    for row in frame.to_dict("records"):
        lines.append(f"- {code(row['recipe'])}: hash {code(row['recipe_hash'])}, version {text(row['recipe_version'])}, "
                     f"seeds {text(row['seeds'])}, {text(row.get('n_samples', 0))} samples scored per seed, "
                     f"device {text(row['device'])}")
    if missing:
        lines += ["", "**Not yet run**: " + ", ".join(f"`{m}`" for m in missing)]
    versions, hardware = provenance(records)
    lines += ["", f"**Versions**: {text(versions)}", "", f"**Hardware**: {text(hardware)}", ""]
    return "\n".join(lines)


def unscored_runs(records: list[dict]) -> list[tuple[str, int, list[str], str]]:
    """(recipe, seed, metrics not scored, why) of each run that left metrics unscored."""
    return [(r["recipe"], r["seed"], list(r["score"]["unscored"]), why) for r in records
            if (why := "; ".join(sorted(set(r["score"].get("unscored", {}).values()))))]


def flagged_rows(frame: pd.DataFrame, records: list[dict],
                 stale: list[tuple[str, int, str]] = ()) -> dict[str, list[str]]:
    """recipe -> why its row is flagged, in the table's order: a seed that left metrics unscored
    (`unscored_runs`: its samples were not finite), or a seed whose record is of an older recipe
    version (collect's stale records, left out of the row). Rows only: a recipe without one is in
    the not-yet-run list, with the same reasons."""
    why: dict[str, list[str]] = {}
    for recipe, seed, names, reason in unscored_runs(records):
        why.setdefault(recipe, []).append(f"seed {seed} left {', '.join(names)} unscored: {reason}")
    for recipe, seed, reason in stale:
        why.setdefault(recipe, []).append(f"seed {seed}: {reason}")
    return {r: why[r] for r in frame["recipe"] if r in why}


def provenance(records: list[dict]) -> tuple[str, str]:
    """The package versions and the hardware the records were made with, each as one line."""
    versions: dict[str, set] = {}
    hardware = set()
    for r in records:
        for k, v in r.get("versions", {}).items():
            versions.setdefault(k, set()).add(v)
        hardware.add(hardware_label(r.get("hardware", {})))
    return (", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(versions.items())),
            "; ".join(sorted(hardware)))
