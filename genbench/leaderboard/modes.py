"""The mode-collapse report: how many of a dataset's known modes each model covered, seed by seed.

A table's `modes` column is a mean; collapse shows in the worst seed and in the modes never hit,
so the report lists, per dataset with known modes, each recipe's covered count per seed out of K
(K from the coverage metric's record info) and names the recipes that missed modes.
"""

from __future__ import annotations

from genbench.leaderboard.markdown import code, text


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


def mode_table(records: list[dict]) -> list[dict]:
    """Per dataset with a mode metric: {"dataset", "n_modes" (K or None), "rows": [{"recipe", "seeds":
    [(seed, covered)], "worst", "verdict", "collapsed"}]}, the one source of the Markdown and the site."""
    out = []
    for dataset, by_recipe in mode_counts(records).items():
        K = n_modes(records, dataset)
        rows = []
        for recipe, seeds in by_recipe.items():
            worst = min(m for _, m in seeds)
            if K is None:
                verdict = "–"
            elif worst == K:
                verdict = "all modes in every seed"
            else:
                verdict = f"misses up to {K - worst} mode{'s' if K - worst > 1 else ''}"
            rows.append({"recipe": recipe, "seeds": seeds, "worst": worst, "verdict": verdict,
                         "collapsed": K is not None and worst < K})
        out.append({"dataset": dataset, "n_modes": K, "rows": rows})
    return out


def mode_report(records: list[dict]) -> list[str]:
    """Markdown lines of the report (empty when no record measured modes)."""
    tables = mode_table(records)
    if not tables:
        return []
    lines = ["## Mode collapse", "",
             "Modes covered per seed, out of the dataset's known modes (`coverage` metric). A recipe that "
             "misses modes in any seed is collapsing onto part of the data.", ""]
    for t in tables:
        K = t["n_modes"]
        of = f" of {text(K)}" if K else ""
        lines += [f"**{text(t['dataset'])}**{f' ({text(K)} modes)' if K else ''}", "",
                  "| recipe | modes covered per seed | worst seed | verdict |", "|---|---|---:|---|"]
        for row in t["rows"]:
            per_seed = ", ".join(f"seed {text(s)}: {text(m)}{of}" for s, m in row["seeds"])
            lines.append(f"| {code(row['recipe'])} | {per_seed} | {text(row['worst'])}{of} | {row['verdict']} |")
        lines.append("")
    return lines
