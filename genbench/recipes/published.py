"""Published figures a recipe reproduces: its `[published]` table.

    [published]
    source = "Lin, Khetan, Fanti & Oh, PacGAN, NeurIPS 2018"
    table = "Table 1, 2D-ring, GAN"
    trials = 10
    spread = "standard error"            # or "standard deviation" (over the trials)
    protocol = "CPU variant: 4 of the paper's 400 epochs"   # how this recipe's run relates to the paper's
    [published.values]
    modes = {value = 6.3, spread = 0.5}  # a metric output key, in genbench's units
    [[published.also]]                   # more references for the same row, each a table as above
    source = "the paper's code, run here"  # (e.g. a measurement of the peer's own code), each its own line

Not part of the recipe hash: it does not change a run's numbers, only what they are read against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from genbench.errors import GenbenchError
from genbench.registry import unknown_name_message

Spread = Literal["standard error", "standard deviation"]
KEYS = {"source", "table", "trials", "spread", "protocol", "values"}
ALSO = "also"  # further references, a list of tables like the first


@dataclass(frozen=True)
class Published:
    source: str
    table: str
    trials: int
    spread: Spread
    protocol: str
    values: dict[str, tuple[float, float]]  # metric output key -> (value, spread)

    def label(self) -> str:
        return f"{self.source}, {self.table} ({self.trials} trials, ± {self.spread})"

    def standard_error(self, key: str) -> float:
        spread = self.values[key][1]
        return spread if self.spread == "standard error" else spread / math.sqrt(self.trials)


def z_score(mean: float, std: float, n_seeds: int, published: float, published_se: float) -> float:
    """(measured mean - published) in units of the combined standard error of the two means."""
    se = math.sqrt((std / math.sqrt(n_seeds)) ** 2 + published_se ** 2)
    return (mean - published) / se if se > 0 else math.nan


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_references(raw, output_keys: list[str], where: str) -> tuple[Published, ...]:
    """Validate a recipe's [published] table and its [[published.also]] tables, in that order;
    `output_keys` are the outputs of the recipe's metrics."""
    if not isinstance(raw, dict):
        raise GenbenchError(f"{where}: [published] must be a table")
    also = raw.get(ALSO, [])
    if not isinstance(also, list) or not all(isinstance(a, dict) for a in also):
        raise GenbenchError(f"{where}: [published] 'also' must be a list of tables ([[published.also]])")
    first = parse_published({k: v for k, v in raw.items() if k != ALSO}, output_keys, where, "[published]")
    return (first, *(parse_published(a, output_keys, where, f"[[published.also]] #{i + 1}")
                     for i, a in enumerate(also)))


def parse_published(raw, output_keys: list[str], where: str, name: str = "[published]") -> Published:
    """Validate one reference table."""
    def fail(message: str):
        raise GenbenchError(f"{where}: {name} {message}")

    if not isinstance(raw, dict):
        fail("must be a table")
    for key in raw:
        if key not in KEYS:
            fail(unknown_name_message("key", key, sorted(KEYS | ({ALSO} if name == "[published]" else set()))))
    for key in ("source", "table", "trials", "spread", "values"):
        if key not in raw:
            fail(f"missing required key {key!r}")
    for key in ("source", "table", "protocol"):
        if not isinstance(raw.get(key, ""), str):
            fail(f"{key!r} must be a string, got {raw[key]!r}")
    trials = raw["trials"]
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        fail(f"'trials' must be a positive integer, got {trials!r}")
    if raw["spread"] not in get_args(Spread):
        fail(unknown_name_message("spread kind", str(raw["spread"]), list(get_args(Spread))))
    if not isinstance(raw["values"], dict) or not raw["values"]:
        fail("'values' must be a non-empty table of metric output -> {value, spread}")
    values = {}
    for key, entry in raw["values"].items():
        if key.split("@", 1)[0] not in output_keys:
            fail(unknown_name_message("metric output", key, output_keys))
        if not isinstance(entry, dict) or set(entry) != {"value", "spread"} or not all(map(_number, entry.values())):
            fail(f"values.{key} must be {{value = <number>, spread = <number>}}, got {entry!r}")
        if entry["spread"] < 0:
            fail(f"values.{key} spread must be >= 0, got {entry['spread']!r}")
        values[key] = (float(entry["value"]), float(entry["spread"]))
    return Published(source=raw["source"], table=raw["table"], trials=trials, spread=raw["spread"],
                     protocol=raw.get("protocol", ""), values=values)
