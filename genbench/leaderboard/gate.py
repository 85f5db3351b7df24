"""The regression gate: compare results with a baseline table, recipe by recipe and metric by metric,
in each metric's own direction.

A metric regresses when it is worse than the baseline by more than its tolerance *and* the
difference is significant over seeds. The test is Welch's (1947) unequal-variance t: the difference
of the two tables' means, in the metric's worse direction, over the combined standard error
SE = sqrt(s_b^2/n_b + s_r^2/n_r) of both tables' seeds, against Student's t with Welch-Satterthwaite
degrees of freedom, one-sided. Seeds stand in for machines: one seed is bit-identical run after run
on one CPU, but another CPU's float rounding sends training elsewhere, much as another seed does, so
a fixed tolerance tighter than the seed spread fails unchanged code on another machine.

- One seed on a side has no spread of its own: it borrows the other side's, so both means share one
  variance estimate with that side's n - 1 degrees of freedom. One seed on both sides: nothing to
  test against, and the tolerance alone decides (the failure table says so).
- The tolerance stays a floor: a difference within it never fails, however small the seed spread
  (deterministic metrics have none, so for them the gate is the tolerance test it always was).
- alpha = 0.01, one-sided, per metric. With 3 seeds a side (about 4 degrees of freedom) the critical
  t is 3.75, so a real regression of about three seed standard deviations is caught, while unchanged
  code fails one metric in a hundred by chance, less across a recipe's metrics since they move
  together. Stricter levels cost most of the power 3 seeds have (0.001: t > 7.2; Bonferroni over the
  full suite's ~190 metrics: t > 15). Choose another level with `alpha`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from scipy import stats

from genbench.errors import GenbenchError
from genbench.leaderboard.records import load_results, load_table, metric_columns
from genbench.metrics import output_spec
from genbench.registry import select_by_glob

ALPHA = 0.01


@dataclass(frozen=True)
class Seeds:
    """One table's summary of a metric over seeds: mean, sample std (NaN with one seed), count."""
    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, row: dict, metric: str) -> Seeds:
        n = row.get("n_seeds")
        n = 1 if n is None or math.isnan(n) else int(n)
        std = row.get(f"{metric}_std")
        std = math.nan if std is None or n < 2 else float(std)
        return cls(float(row[metric]), std, n)

    @property
    def variance(self) -> float | None:
        return None if math.isnan(self.std) else self.std ** 2

    def __str__(self) -> str:
        spread = "" if math.isnan(self.std) else f" ± {self.std:.3g}"
        return f"{self.mean:.6g}{spread} (n={self.n})"


@dataclass(frozen=True)
class Welch:
    se: float
    df: float
    t: float
    p: float


def welch(base: Seeds, now: Seeds, worse_by: float) -> Welch | None:
    """One-sided Welch test that `now` is worse than `base` by `worse_by`; None when neither side has a spread."""
    vb, vn = base.variance, now.variance
    if vb is None and vn is None:
        return None
    if vb is None or vn is None:  # one side's spread stands for both
        v, dof = (vn, now.n - 1) if vb is None else (vb, base.n - 1)
        se2, df = v * (1 / base.n + 1 / now.n), float(dof)
    else:
        a, b = vb / base.n, vn / now.n
        se2 = a + b
        df = se2 ** 2 / (a ** 2 / (base.n - 1) + b ** 2 / (now.n - 1)) if se2 > 0 else float(base.n + now.n - 2)
    se = math.sqrt(se2)
    if se == 0:  # no spread on either side: any difference is certain
        t = math.inf if worse_by > 0 else (-math.inf if worse_by < 0 else 0.0)
    else:
        t = worse_by / se
    return Welch(se, df, t, float(stats.t.sf(t, df)))


@dataclass
class Comparison:
    recipe: str
    metric: str
    direction: str
    baseline: Seeds
    value: Seeds
    allowed: float
    worse_by: float
    test: Welch | None
    alpha: float = ALPHA

    @property
    def beyond_tolerance(self) -> bool:
        return math.isnan(self.value.mean) or self.worse_by > self.allowed + 1e-12

    @property
    def not_a_number(self) -> bool:
        """The results hold NaN: no difference or test exists, and NaN never passes."""
        return math.isnan(self.value.mean)

    @property
    def regressed(self) -> bool:
        if self.not_a_number:
            return True
        return self.beyond_tolerance and (self.test is None or self.test.p < self.alpha)

    @property
    def verdict(self) -> str:
        if self.not_a_number:
            return "NaN"
        if self.regressed:
            return "regressed"
        if self.beyond_tolerance:
            return "within seed noise"
        return "better" if self.worse_by < 0 else "within tolerance"

    def as_dict(self) -> dict:
        """Everything the gate weighed for this metric, for --json (t is None where no test ran)."""
        w = self.test
        return {"recipe": self.recipe, "metric": self.metric, "direction": self.direction,
                "baseline": {"mean": self.baseline.mean, "std": self.baseline.std, "n": self.baseline.n},
                "now": {"mean": self.value.mean, "std": self.value.std, "n": self.value.n},
                "worse_by": self.worse_by, "tolerance": self.allowed,
                "t": None if w is None else w.t, "df": None if w is None else w.df, "p": None if w is None else w.p,
                "verdict": self.verdict}

    def statistic(self) -> tuple[str, str, str]:
        """t, df and p as table cells."""
        if self.test is None:
            return "-", "-", "1 seed each: tolerance alone"
        w = self.test
        return f"{w.t:.3g}", f"{w.df:.3g}", f"{w.p:.2g}"


@dataclass
class GateResult:
    comparisons: list[Comparison] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alpha: float = ALPHA

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.regressed]

    @property
    def significant(self) -> list[Comparison]:
        """Regressions by a number: worse beyond the tolerance and the seed noise."""
        return [c for c in self.regressions if not c.not_a_number]

    @property
    def nans(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.not_a_number]

    @property
    def within_noise(self) -> list[Comparison]:
        """Worse by more than the tolerance, but not significantly over seeds."""
        return [c for c in self.comparisons if c.beyond_tolerance and not c.regressed]

    @property
    def passed(self) -> bool:
        return not self.regressions and not self.missing

    def report(self) -> str:
        test = f"Welch's t over seeds, one-sided, alpha {self.alpha:g}"
        lines = []
        rows = self.significant
        if self.nans:
            lines.append(f"gate FAILED: {len(self.nans)} of {len(self.comparisons)} metric(s) NaN in the results "
                         "(no finite value to compare; NaN never passes):")
            lines += [f"  {c.recipe}: {c.metric} is NaN (baseline {c.baseline})" for c in self.nans]
        if rows:
            lines.append(f"gate FAILED: {len(rows)} of {len(self.comparisons)} metric(s) worse than the baseline "
                         f"by more than their tolerance, significantly ({test})")
            lines += comparison_table(rows)
        if self.missing:
            lines.append(f"gate FAILED: {len(self.missing)} baseline value(s) missing from the results:")
            lines += [f"  {m}" for m in self.missing]
        if self.passed:
            lines.append(f"gate passed: {len(self.comparisons)} metric(s) compared, none worse than the baseline by "
                         f"more than its tolerance and significantly ({test}):")
            lines += comparison_table(self.comparisons, verdicts=True)
        for c in self.within_noise:
            t, df, p = c.statistic()
            lines.append(f"note: {c.recipe}: {c.metric} worse by {c.worse_by:.6g} (tolerance {c.allowed:.6g}) but "
                         f"within seed noise: t = {t}, df = {df}, p = {p} >= {self.alpha:g}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """The gate's report for CI logs (--json): every compared metric, what is missing, the notes."""
        return {"passed": self.passed, "alpha": self.alpha, "compared": len(self.comparisons),
                "regressions": len(self.regressions), "comparisons": [c.as_dict() for c in self.comparisons],
                "missing": self.missing, "notes": self.notes}


def comparison_table(rows: list[Comparison], verdicts: bool = False) -> list[str]:
    """The comparisons as aligned text lines, with each one's verdict where asked."""
    header = ("recipe", "metric", "baseline", "now", "worse by", "tolerance", "t", "df", "p") + (("verdict",) if verdicts else ())
    table = [header] + [(c.recipe, f"{c.metric} ({c.direction} is better)", str(c.baseline), str(c.value),
                         f"{c.worse_by:.6g}", f"{c.allowed:.6g}", *c.statistic()) + ((c.verdict,) if verdicts else ())
                        for c in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for i, r in enumerate(table):
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


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


def select_recipes(base: pd.DataFrame, patterns: list[str] | str | None, baseline) -> pd.DataFrame:
    """The baseline rows whose recipe id matches any glob in `patterns` (all rows without patterns)."""
    ids = [str(r) for r in base["recipe"]]
    chosen = set(select_by_glob(ids, patterns, f"of the baseline {baseline}"))
    return base[[i in chosen for i in ids]]


def gate(baseline: str | Path, results: str | Path, tolerance: list[str] | dict[str, float] | None = None,
         allow_missing: bool = False, recipes: list[str] | str | None = None, alpha: float = ALPHA) -> GateResult:
    if not 0 < alpha < 1:
        raise GenbenchError(f"--alpha must lie in (0, 1), got {alpha}")
    tolerances = parse_tolerances(tolerance)
    base = select_recipes(load_table(baseline), recipes, baseline)
    now = load_results(results)
    result = GateResult(alpha=alpha)
    now_by_recipe = {r["recipe"]: r for r in now.to_dict("records")}
    metrics = metric_columns(base)
    result.notes += [f"{m}: in the results but the baseline has no column for it; not compared"
                     for m in metric_columns(now) if m not in metrics]
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
        for metric in metrics:
            spec = output_spec(metric)
            v = new.get(metric)
            if math.isnan(row[metric]):
                if v is not None and not math.isnan(float(v)):
                    result.notes.append(f"{recipe}: {metric} has no baseline value (empty or NaN in {baseline}); "
                                        "not compared")
                continue
            if v is None:
                result.missing.append(f"{recipe}: {metric}")
                continue
            b, r = Seeds.of(row, metric), Seeds.of(new, metric)
            worse_by = spec.regression(b.mean, r.mean)
            allowed = spec.allowed(b.mean, tolerances.get(metric, tolerances.get(metric.split("@")[0])))
            result.comparisons.append(Comparison(recipe, metric, spec.direction, b, r, allowed, worse_by,
                                                 welch(b, r, worse_by), alpha))
    if overlap == 0:
        raise GenbenchError(f"gate compared nothing: no recipe of the baseline {baseline} appears in the results {results}")
    if allow_missing and result.missing:
        result.notes += [f"missing (allowed): {m}" for m in result.missing]
        result.missing = []
    if not result.comparisons and not result.missing:
        raise GenbenchError(f"gate compared nothing: the baseline {baseline} has no metric values for the "
                            f"{overlap} recipe(s) it shares with the results {results}")
    return result
