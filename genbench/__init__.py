"""genbench: baselines, metrics, leaderboards and regression gates for generative models.

The API mirrors the CLI one to one: `genbench.train`, `score`, `fetch`, `bench`, `leaderboard`,
`site`, `gate`, `train_extractor` (`genbench train-extractor`).
"""

__version__ = "0.1.0"
__all__ = ["bench", "fetch", "gate", "leaderboard", "score", "site", "train", "train_extractor", "__version__"]


def __getattr__(name):  # keep `import genbench` (and `genbench --help`) free of torch's import time
    if name in __all__:
        from genbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'genbench' has no attribute {name!r}")
