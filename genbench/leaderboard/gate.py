"""The regression gate: compare results with a baseline table, metric by metric, in each
metric's own direction, and fail when any is worse by more than its tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.leaderboard.records import load_results, load_table, metric_columns
from genbench.metrics import output_spec


@dataclass
class Comparison:
    recipe: str
    metric: str
    direction: str
    baseline: float
    value: float
    allowed: float
    worse_by: float

    @property
    def regressed(self) -> bool:
        return math.isnan(self.value) or self.worse_by > self.allowed + 1e-12


@dataclass
class GateResult:
    comparisons: list[Comparison] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.regressed]

    @property
    def passed(self) -> bool:
        return not self.regressions and not self.missing

    def report(self) -> str:
        lines = []
        rows = self.regressions
        if rows:
            lines.append(f"gate FAILED: {len(rows)} metric(s) regressed past tolerance")
            header = ("recipe", "metric", "baseline", "now", "worse by", "tolerance")
            table = [header] + [(c.recipe, f"{c.metric} ({'higher' if c.direction == 'higher' else 'lower'} is better)",
                                 f"{c.baseline:.6g}", f"{c.value:.6g}", f"{c.worse_by:.6g}", f"{c.allowed:.6g}")
                                for c in rows]
            widths = [max(len(r[i]) for r in table) for i in range(len(header))]
            for i, r in enumerate(table):
                lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
                if i == 0:
                    lines.append("  " + "  ".join("-" * w for w in widths))
        if self.missing:
            lines.append(f"gate FAILED: {len(self.missing)} baseline value(s) missing from the results:")
            lines += [f"  {m}" for m in self.missing]
        if self.passed:
            lines.append(f"gate passed: {len(self.comparisons)} metric(s) within tolerance")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def parse_tolerances(items: list[str] | dict[str, float] | None) -> dict[str, float]:
    if not items:
        return {}
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise GenbenchError(f"tolerance {item!r} is not of the form metric=value")
            pairs.append((name.strip(), value))
    out = {}
    for name, value in pairs:
        output_spec(name)  # unknown metric output: helpful error
        try:
            out[name] = float(value)
        except ValueError:
            raise GenbenchError(f"tolerance for {name!r} must be a number, got {value!r}") from None
        if not out[name] >= 0:
            raise GenbenchError(f"tolerance for {name!r} must be >= 0, got {value!r}")
    return out


def gate(baseline: str | Path, results: str | Path, tolerance: list[str] | dict[str, float] | None = None,
         allow_missing: bool = False) -> GateResult:
    tolerances = parse_tolerances(tolerance)
    base = load_table(baseline)
    now = load_results(results)
    result = GateResult()
    now_by_recipe = {r["recipe"]: r for r in now.to_dict("records")}
    overlap = 0
    for row in base.to_dict("records"):
        recipe = row["recipe"]
        if recipe not in now_by_recipe:
            result.missing.append(f"{recipe}: no results")
            continue
        overlap += 1
        new = now_by_recipe[recipe]
        if str(new.get("recipe_hash")) != str(row.get("recipe_hash")):
            result.notes.append(f"{recipe}: recipe changed (hash {row.get('recipe_hash')} -> {new.get('recipe_hash')})")
        for metric in metric_columns(base):
            b = row.get(metric)
            if b is None or (isinstance(b, float) and math.isnan(b)):
                continue
            spec = output_spec(metric)
            v = new.get(metric)
            if v is None:
                result.missing.append(f"{recipe}: {metric}")
                continue
            v = float(v)
            result.comparisons.append(Comparison(
                recipe, metric, spec.direction, float(b), v,
                spec.allowed(float(b), tolerances.get(metric, tolerances.get(metric.split("@")[0]))),
                spec.regression(float(b), v)))
    if overlap == 0:
        raise GenbenchError(f"no recipe of the baseline {baseline} appears in the results {results}")
    if allow_missing and result.missing:
        result.notes += [f"missing (allowed): {m}" for m in result.missing]
        result.missing = []
    return result
