"""Metrics: one registry, one protocol.

A metric is a class with a `name`, the `outputs` it reports (each with its direction, its unit
and scale, and its default gate tolerance: one declaration that `list metrics`, `--help`, the
score summary, the leaderboards' metric notes and the gate all read), and `compute(samples, reference, model=None) -> {output: number}`. What a
number needs beside it to be reproduced (e.g. sacrebleu's signature) comes from `info(...)` with
the same arguments, and is stored with the run; leaderboard columns stay numeric.
Output keys are unique across all metrics, so a leaderboard column names its metric and its
direction without ambiguity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.registry import Registry, unknown_name_message

METRICS: Registry = Registry("metric")
OUTPUTS: dict[str, Output] = {}


@dataclass(frozen=True)
class Output:
    key: str
    direction: Literal["higher", "lower"]
    description: str
    tolerance: float  # absolute slack the gate allows by default
    rel_tolerance: float = 0.0  # ... or this fraction of |baseline|, whichever is larger
    unit: str = ""  # what the number measures, before `scale`
    scale: float = 1  # the number printed is the quantity in `unit` times this (BLEU's fraction x 100)
    scale_note: str = ""  # how that scale relates to what others print, where they differ

    @property
    def units(self) -> str:
        """Unit and scale as one phrase, e.g. 'nats per example; scale ×1'."""
        note = f" ({self.scale_note})" if self.scale_note else ""
        return f"{self.unit}; scale ×{self.scale:g}{note}"

    @property
    def default_tolerance(self) -> str:
        """The gate's default floor in words."""
        if not self.rel_tolerance:
            return f"{self.tolerance:g}"
        return f"max({self.tolerance:g}, {self.rel_tolerance:g} × |baseline|)"

    @property
    def arrow(self) -> str:
        return "↑" if self.direction == "higher" else "↓"

    def allowed(self, baseline: float, tolerance: float | None = None) -> float:
        if tolerance is not None:
            return tolerance
        return max(self.tolerance, self.rel_tolerance * abs(baseline))

    def regression(self, baseline: float, value: float) -> float:
        """How much worse `value` is than `baseline` (positive = worse), in the metric's units."""
        return baseline - value if self.direction == "higher" else value - baseline


class Metric:
    name: ClassVar[str]
    outputs: ClassVar[tuple[Output, ...]]
    needs_log_prob: ClassVar[bool] = False  # scores a model, not samples
    n_samples: ClassVar[int] = 0  # samples the protocol draws from a model (0: none)
    # True where the value depends on how many samples are scored (a count of modes hit grows with
    # them): then fewer samples than `samples_needed` are refused unless that count is asked for.
    count_sensitive: ClassVar[bool] = False
    # True where the protocol itself draws at random (e.g. val-loss's windows): `compute` then takes
    # `generator=`, the run's scoring stream after any samples were drawn, so each seed draws its own.
    uses_generator: ClassVar[bool] = False

    def applies(self, dataset: Dataset) -> str | None:
        """None when this metric can score `dataset`, else the reason it cannot."""
        return None

    def prepare(self, dataset: Dataset) -> None:
        """Load what scoring `dataset` will need (e.g. extractor weights), so that a missing or changed
        file is refused before a run trains. Default: nothing to load."""

    def samples_needed(self, dataset: Dataset) -> int:
        """How many model samples the metric's protocol draws on `dataset`."""
        return self.n_samples

    def compute(self, samples: torch.Tensor | None, reference: Dataset, model=None) -> dict[str, float]:
        raise NotImplementedError

    def measure(self, samples: torch.Tensor | None, reference: Dataset, model=None, **kw) -> tuple[dict, dict]:
        """The outputs and the standard errors of those that have one (`score --bootstrap`); a metric
        that estimates none returns its values and an empty dict."""
        return self.compute(samples, reference, model, **kw), {}

    def info(self, samples: torch.Tensor | None, reference: Dataset, model=None) -> dict[str, str]:
        """Non-numeric facts that belong with the numbers (e.g. sacrebleu's signature). Default: none."""
        return {}


def register_metric(cls):
    for out in cls.outputs:
        if out.key in OUTPUTS:
            raise ValueError(f"metric output {out.key!r} is declared twice")
        OUTPUTS[out.key] = out
    return METRICS.register(cls.name)(cls)


def output_spec(column: str) -> Output:
    """The declared output behind a leaderboard column ('fid@extractor' reads as 'fid')."""
    key = column.split("@", 1)[0]
    if key not in OUTPUTS:
        raise GenbenchError(unknown_name_message("metric output", key, list(OUTPUTS)))
    return OUTPUTS[key]


def outputs_help(tolerances: bool = False) -> str:
    """Every declared output with its direction, unit and scale (and the gate's default tolerance),
    as `--help` lists them."""
    lines = [f"  {o.key} {o.arrow}  {o.units}" + (f"; tolerance {o.default_tolerance}" if tolerances else "")
             for o in OUTPUTS.values()]
    return "\n".join(lines)


def options_taken(name: str) -> set[str]:
    """The options metric `name` is built with (its constructor's keywords)."""
    import inspect

    return set(inspect.signature(METRICS.get(name).__init__).parameters) - {"self"}


def build_metric(name: str, options: dict | None = None) -> Metric:
    """Instantiate a metric with the options its constructor takes (e.g. extractor=...)."""
    accepted = options_taken(name)
    return METRICS.get(name)(**{k: v for k, v in (options or {}).items() if k in accepted and v is not None})


from genbench.metrics import (  # noqa: E402,F401,I001
    bits_per_byte, bleu, coverage, density_coverage, distinct, fidelity, likelihood, oracle, text_likelihood, translation,
    val_loss,
)
