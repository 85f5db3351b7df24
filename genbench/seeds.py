"""The seed streams of a run, named in one place. A run's seed sets every stream; each stream is
its own generator, so what one part draws never moves another's draws (a metric's samples do not
depend on how long training ran, a plot does not depend on the seed's metrics).

Metrics that need randomness of their own (dequantization noise, KID subsets, IWAE samples) use
fixed seeds declared beside them, so that their numbers depend on the samples alone.
"""

from __future__ import annotations

from genbench.errors import GenbenchError

SCORING_OFFSET = 10_000  # far from any recipe's seed list, so no run's scoring stream is another's training
PLOT = 0  # the sample plot and the text sweep: the same draws for every run of a recipe's first seed
# torch and numpy take 64-bit seeds; the largest seed whose every stream (scoring adds its offset) fits in one.
MAX = 2**63 - 1 - SCORING_OFFSET


def check(seed, what: str) -> int:
    """`seed` if it is an integer 0..MAX (the bound every seed of genbench has), else one line naming `what`."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise GenbenchError(f"{what} must be an integer, got {seed!r} ({type(seed).__name__})")
    if not 0 <= seed <= MAX:
        raise GenbenchError(f"{what} must be in 0..{MAX} (a 64-bit seed), got {seed}")
    return seed


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
        return check(config["scoring_seed"], "its 'scoring_seed'")
    return scoring(check(config["seed"], "its 'seed'")) if "seed" in config else None
