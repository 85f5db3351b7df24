"""The mode-collapse report: how many of a dataset's known modes each model covered, seed by seed.

A table's `modes` column is a mean; collapse shows in the worst seed and in the modes never hit,
so the report lists, per dataset with known modes, each recipe's covered count per seed out of K
(K from the coverage metric's record info) and names the recipes that missed modes.
"""

from __future__ import annotations


def mode_counts(records: list[dict]) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """{dataset: {recipe: [(seed, modes covered), ...]}} from the records."""
    out: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for r in sorted(records, key=lambda r: r["seed"]):  # stable: datasets and recipes keep the suite's order
        if "modes" in r["metrics"]:
            out.setdefault(r.get("dataset", ""), {}).setdefault(r["recipe"], []).append((r["seed"], int(r["metrics"]["modes"])))
    return out


def n_modes(records: list[dict], dataset: str) -> int | None:
    for r in records:
        if r.get("dataset") == dataset:
            k = r.get("score", {}).get("info", {}).get("coverage", {}).get("n_modes")
            if k:
                return int(k)
    # Records written before the coverage metric stored K: ask the dataset itself.
    from genbench.data import load_dataset
    from genbench.errors import GenbenchError

    try:
        return load_dataset(dataset).n_modes
    except GenbenchError:
        return None


def mode_report(records: list[dict]) -> list[str]:
    """Markdown lines of the report (empty when no record measured modes)."""
    counts = mode_counts(records)
    if not counts:
        return []
    lines = ["## Mode collapse", "",
             "Modes covered per seed, out of the dataset's known modes (`coverage` metric). A recipe that "
             "misses modes in any seed is collapsing onto part of the data.", ""]
    for dataset, by_recipe in counts.items():
        K = n_modes(records, dataset)
        of = f" of {K}" if K else ""
        lines += [f"**{dataset}**{f' ({K} modes)' if K else ''}", "",
                  "| recipe | modes covered per seed | worst seed | verdict |", "|---|---|---:|---|"]
        for recipe, seeds in by_recipe.items():
            per_seed = ", ".join(f"seed {s}: {m}{of}" for s, m in seeds)
            worst = min(m for _, m in seeds)
            if K is None:
                verdict = "–"
            elif worst == K:
                verdict = "all modes in every seed"
            else:
                verdict = f"misses up to {K - worst} mode{'s' if K - worst > 1 else ''}"
            lines.append(f"| `{recipe}` | {per_seed} | {worst}{of} | {verdict} |")
        lines.append("")
    return lines
