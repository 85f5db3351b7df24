"""Run records in, one aggregated row per recipe out (mean and sample std over seeds)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from genbench.errors import GenbenchError
from genbench.record_file import read_record

TEXT_COLUMNS = ("recipe", "dataset", "model", "family", "recipe_hash", "seeds", "device")
ID_COLUMNS = ["recipe", "dataset", "model", "family", "recipe_version", "recipe_hash", "n_seeds", "seeds", "n_samples"]


def load_records(path: str | Path) -> list[dict]:
    """Every record.json under a folder, or one record file."""
    path = Path(path)
    if path.is_file():
        return [read_record(path)]
    if not path.is_dir():
        raise GenbenchError(f"no run records at {path}: not a file or folder")
    return [read_record(p) for p in sorted(path.rglob("record.json"))]


def scored_count(record: dict) -> int:
    """How many samples a run scored (its record's score.n_samples; "samples" before the rename)."""
    score = record.get("score", {})
    return score.get("n_samples", score.get("samples", 0))


def check_metrics(record: dict) -> None:
    """A record's metrics must be a table of numbers (None: a value that was NaN, as JSON has no NaN);
    a hand-edited or damaged one is refused naming its run, before any table is built from it."""
    where = f"run record of {record.get('recipe')!r} seed {record.get('seed')!r}"
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise GenbenchError(f"{where}: 'metrics' is {metrics!r}, not a table of metric values")
    for key, value in metrics.items():
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise GenbenchError(f"{where}: metric {key!r} is {value!r}, not a number")


def aggregate(records: list[dict], metric_order: list[str] | None = None) -> pd.DataFrame:
    """One row per (recipe, recipe hash): identity columns, then '<key>' mean and '<key>_std'."""
    for r in records:
        check_metrics(r)
    if not records:
        return pd.DataFrame(columns=ID_COLUMNS)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["recipe"], r["recipe_hash"]), []).append(r)
    present = sorted({k for r in records for k in r["metrics"]})
    keys = [k for base in metric_order or [] for k in present if k.split("@", 1)[0] == base]
    for r in records:
        keys += [k for k in r["metrics"] if k not in keys]
    rows = []
    for (recipe, digest), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        seeds = [r["seed"] for r in rs]
        if len(set(seeds)) != len(seeds):
            raise GenbenchError(f"recipe {recipe}: seed recorded twice among the records {seeds}")
        row = {"recipe": recipe, "dataset": rs[0].get("dataset", ""), "model": rs[0].get("model", ""),
               "family": rs[0].get("family", ""), "recipe_version": rs[0].get("recipe_version", ""),
               "recipe_hash": digest, "n_seeds": len(rs), "seeds": " ".join(map(str, seeds)),
               "n_samples": scored_count(rs[0])}
        for k in keys:
            if not any(k in r["metrics"] for r in rs):
                continue
            # A seed without the value (unscored, or NaN) leaves the row's value missing: a mean over
            # the other seeds would stand for all of them and hide the failure.
            s = pd.Series([math.nan if r["metrics"].get(k) is None else float(r["metrics"][k]) for r in rs])
            row[k] = s.mean(skipna=False)
            row[f"{k}_std"] = s.std(ddof=1, skipna=False) if len(rs) > 1 else math.nan
        row["train_time_s"] = sum(r.get("train", {}).get("wall_time_s", math.nan) for r in rs) / len(rs)
        row["device"] = rs[0].get("device", "")
        rows.append(row)
    columns = ID_COLUMNS + [c for k in keys for c in (k, f"{k}_std")] + ["train_time_s", "device"]
    frame = pd.DataFrame(rows, columns=columns)  # a metric with no value anywhere still shows, as –
    return frame.sort_values("recipe", kind="stable").reset_index(drop=True)


# Columns beside the metrics that are not metrics: spreads, and published figures
# (genbench.leaderboard.published) with their labels.
# A further reference's columns carry its number (genbench.leaderboard.published.suffix).
NOT_METRIC = re.compile(r"(^(published|protocol)|_(std|published|published_se|z))(_\d+)?$")
NOT_METRIC_COLUMNS = {"train_time_s", "device",
                      "samples"}  # n_samples in tables written before it was renamed


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric-mean columns of an aggregated frame, in order."""
    skip = set(ID_COLUMNS) | NOT_METRIC_COLUMNS
    return [c for c in frame.columns if c not in skip and not NOT_METRIC.search(c)]


def load_table(path: str | Path) -> pd.DataFrame:
    """An aggregated leaderboard CSV written by `genbench leaderboard`."""
    path = Path(path)
    try:
        # Hashes, ids and seed lists are text: read as numbers, hash 000000000000 would print as 0.
        frame = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})
    except FileNotFoundError:
        raise GenbenchError(f"leaderboard table {path} does not exist") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise GenbenchError(f"leaderboard table {path} cannot be read as CSV ({e})") from None
    if "recipe" not in frame.columns:
        raise GenbenchError(f"{path} is not a genbench leaderboard table (no 'recipe' column)")
    numeric = [c for m in metric_columns(frame) for c in (m, f"{m}_std") if c in frame.columns]
    for column in numeric + [c for c in ("n_seeds",) if c in frame.columns]:
        frame[column] = numeric_column(frame, column, path)
    check_table(frame, path)
    return frame


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A column as finite floats (empty cells are NaN); anything else names its file, column and row."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (values.isna() & frame[column].notna()) | values.isin([math.inf, -math.inf])
    if bad.any():
        refuse_cell(frame, column, bad, path, "not a finite number")
    return values.astype(float)


def refuse_cell(frame: pd.DataFrame, column: str, bad: pd.Series, path: Path, why: str):
    i = int(bad.to_numpy().argmax())
    raise GenbenchError(f"leaderboard table {path}: column {column!r}, row {i + 1} (line {i + 2}, recipe "
                        f"{frame['recipe'].iloc[i]!r}) holds {frame[column].iloc[i]!r}, {why}")


def check_table(frame: pd.DataFrame, path: Path) -> None:
    """What a table's numbers must be, for a gate to read them: one row per recipe, spreads >= 0, and
    whole seed counts >= 1 (empty cells stand for what was not measured)."""
    rows = frame["recipe"].astype(str)
    repeated = rows[rows.duplicated(keep=False)]
    if len(repeated):
        recipe = repeated.iloc[0]
        lines = [i + 2 for i in range(len(rows)) if rows.iloc[i] == recipe]
        raise GenbenchError(f"leaderboard table {path}: recipe {recipe!r} has {len(lines)} rows (lines "
                            f"{', '.join(map(str, lines[:-1]))} and {lines[-1]}); a table holds one row per recipe")
    for column in [c for c in frame.columns if c.endswith("_std") and c[:-4] in metric_columns(frame)]:
        if (negative := frame[column] < 0).any():
            refuse_cell(frame, column, negative, path, "and a spread over seeds cannot be negative")
    if "n_seeds" in frame.columns:
        n = frame["n_seeds"]
        if (bad := n.notna() & ((n < 1) | (n % 1 != 0))).any():
            refuse_cell(frame, "n_seeds", bad, path, "not a whole number >= 1")


def load_results(path: str | Path) -> pd.DataFrame:
    """Records (a folder or record.json) or an aggregated CSV, as an aggregated frame."""
    path = Path(path)
    if path.suffix == ".csv":
        return load_table(path)
    records = load_records(path)
    if not records:
        raise GenbenchError(f"no run records (record.json) found under {path}")
    frame = aggregate(records)
    for recipe, hashes in frame.groupby("recipe")["recipe_hash"]:
        if len(hashes) > 1:  # e.g. a seed left from an older version of the recipe beside the current ones
            raise GenbenchError(f"the run records under {path} hold recipe {recipe} under {len(hashes)} recipe hashes "
                                f"({', '.join(map(str, hashes))}): remove the stale ones, or gate the leaderboard "
                                "table (`genbench leaderboard` keeps the current recipe's records alone)")
    return frame
