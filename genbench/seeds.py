"""The seed streams of a run, named in one place. A run's seed sets every stream; each stream is
its own generator, so what one part draws never moves another's draws (a metric's samples do not
depend on how long training ran, a plot does not depend on the seed's metrics).

Metrics that need randomness of their own (dequantization noise, KID subsets, IWAE samples) use
fixed seeds declared beside them, so that their numbers depend on the samples alone.
"""

from __future__ import annotations

SCORING_OFFSET = 10_000  # far from any recipe's seed list, so no run's scoring stream is another's training
PLOT = 0  # the sample plot and the text sweep: the same draws for every run of a recipe's first seed


def training(seed: int) -> int:
    """Initialization, batches and the model's own training noise."""
    return seed


def scoring(seed: int) -> int:
    """The samples a run's metrics are computed on; `score --checkpoint` draws from it again."""
    return SCORING_OFFSET + seed


def streams(seed: int) -> dict[str, int]:
    """Every stream of a run with this seed, as its record states them."""
    return {"training": training(seed), "scoring": scoring(seed), "plot": PLOT}


def checkpoint_scoring_seed(config: dict) -> int | None:
    """The scoring seed a checkpoint's run used: recorded in its JSON, or for a checkpoint saved
    before it was recorded, derived from the run's seed; None for a checkpoint of no run."""
    if "scoring_seed" in config:
        return int(config["scoring_seed"])
    return scoring(int(config["seed"])) if "seed" in config else None
