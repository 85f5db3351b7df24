"""Published figures beside measured ones: for each recipe with a [published] table, the CSV
columns `published` and `protocol` (what and how), and per metric output `<key>_published`,
`<key>_published_se` (the spread as a standard error of the published mean) and `<key>_z`, the
distance of the measured mean in units of the combined standard error (genbench.recipes.published).
A recipe's further references ([[published.also]]) give the same columns with a suffix `_2`, `_3`, ..."""

from __future__ import annotations

import math

import pandas as pd

from genbench.recipes.published import z_score


def suffix(i: int) -> str:
    """The column suffix of a recipe's i-th reference (0: the [published] table's, no suffix)."""
    return "" if i == 0 else f"_{i + 1}"


def attach_published(frame: pd.DataFrame, recipes) -> pd.DataFrame:
    by_id = {r.id: r.references() for r in recipes if r.published is not None}
    if frame.empty or not by_id:
        return frame
    rows = []
    for row in frame.to_dict("records"):
        for i, pub in enumerate(by_id.get(row["recipe"], ())):
            s = suffix(i)
            row[f"published{s}"], row[f"protocol{s}"] = pub.label(), pub.protocol
            for key, (value, _) in pub.values.items():
                se = pub.standard_error(key)
                mean, std = row.get(key, math.nan), row.get(f"{key}_std", math.nan)
                row[f"{key}_published{s}"], row[f"{key}_published_se{s}"] = value, se
                row[f"{key}_z{s}"] = z_score(mean, std, row["n_seeds"], value, se)
        rows.append(row)
    extra = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in frame.columns]
    return pd.DataFrame(rows, columns=list(frame.columns) + extra)
