"""How a run is scored: its metrics, sample count and the metrics' protocol options.

A recipe's `[score]` table declares it, and the run's checkpoint JSON carries it (under "score"),
so that `score --checkpoint` on a run's checkpoint, with no flags, scores it as its record was
scored. One parser for both: a checkpoint's JSON is a user's file, checked as a recipe is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genbench.errors import GenbenchError
from genbench.features import EXTRACTORS
from genbench.metrics import METRICS
from genbench.registry import unknown_name_message

EVAL_KEYS = ("eval_iters", "eval_batch_size", "eval_every")  # metrics' sampling-protocol sizes (genbench.metrics.val_loss)
KEYS = ("metrics", "n_samples", "extractor", *EVAL_KEYS)


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class ScoreConfig:
    metrics: list[str] | None = None  # None: every metric that applies
    n_samples: int | None = None  # None: each metric's protocol count
    extractor: str | None = None  # feature extractor for image metrics (None: the dataset's)
    eval_options: dict = field(default_factory=dict)  # eval_iters / eval_batch_size / eval_every, where given

    @classmethod
    def parse(cls, raw: dict, where: str) -> ScoreConfig:
        """The keys of KEYS in `raw` (others are the caller's), each checked; `where` prefixes each message
        (e.g. "recipe x.toml: [score]")."""
        metrics = raw.get("metrics")
        if metrics is not None:
            if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
                raise GenbenchError(f"{where} metrics must be a non-empty list of metric names")
            for m in metrics:
                if m not in METRICS:
                    raise GenbenchError(f"{where}: {unknown_name_message('metric', m, METRICS.names())}")
        n_samples = raw.get("n_samples")
        if n_samples is not None and not _positive(n_samples):
            raise GenbenchError(f"{where} n_samples must be a positive integer, got {n_samples!r}")
        eval_options = {k: raw[k] for k in EVAL_KEYS if k in raw}
        for key, value in eval_options.items():
            if not _positive(value):
                raise GenbenchError(f"{where} {key} must be a positive integer, got {value!r}")
        extractor = raw.get("extractor")
        if extractor is not None and (not isinstance(extractor, str) or extractor not in EXTRACTORS):
            raise GenbenchError(f"{where}: {unknown_name_message('feature extractor', str(extractor), EXTRACTORS.names())}")
        return cls(metrics=metrics, n_samples=n_samples, extractor=extractor, eval_options=eval_options)

    @classmethod
    def of_checkpoint(cls, config: dict, where: str) -> ScoreConfig:
        """What a checkpoint's run was scored with; empty for a checkpoint saved before it was recorded."""
        raw = config.get("score", {})
        if not isinstance(raw, dict):
            raise GenbenchError(f"{where}: 'score' is {raw!r}, not a table of how its run was scored")
        for key in raw:
            if key not in KEYS:
                raise GenbenchError(f"{where}: {unknown_name_message(repr('score') + ' key', key, list(KEYS))}")
        return cls.parse(raw, f"{where}: its 'score'")

    def to_json(self) -> dict:
        """The declared keys only, as a recipe's [score] table writes them."""
        return {**({"metrics": self.metrics} if self.metrics is not None else {}),
                **({"n_samples": self.n_samples} if self.n_samples is not None else {}),
                **({"extractor": self.extractor} if self.extractor else {}), **self.eval_options}
