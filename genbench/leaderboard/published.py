"""Published figures beside measured ones: for each recipe with a [published] table, the CSV
columns `published` and `protocol` (what and how), and per metric output `<key>_published`,
`<key>_published_se` (the spread as a standard error of the published mean) and `<key>_z`, the
distance of the measured mean in units of the combined standard error (genbench.recipes.published)."""

from __future__ import annotations

import math

import pandas as pd

from genbench.recipes.published import z_score


def attach_published(frame: pd.DataFrame, recipes) -> pd.DataFrame:
    by_id = {r.id: r.published for r in recipes if r.published is not None}
    if frame.empty or not by_id:
        return frame
    rows = []
    for row in frame.to_dict("records"):
        pub = by_id.get(row["recipe"])
        if pub is not None:
            row["published"], row["protocol"] = pub.label(), pub.protocol
            for key, (value, _) in pub.values.items():
                se = pub.standard_error(key)
                mean, std = row.get(key, math.nan), row.get(f"{key}_std", math.nan)
                row[f"{key}_published"], row[f"{key}_published_se"] = value, se
                row[f"{key}_z"] = z_score(mean, std, row["n_seeds"], value, se)
        rows.append(row)
    extra = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in frame.columns]
    return pd.DataFrame(rows, columns=list(frame.columns) + extra)
