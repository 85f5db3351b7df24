"""Datasets: one registry, one `Dataset` record that every model and metric reads.

Conventions: points are raw float coordinates; images are integers 0..levels-1 stored as
float32 with shape (N, C, H, W). Models see images dequantized into [0, 1] (see
`Dataset.continuous`), and their samples come back in that same [0, 1] space. Text is int64
token ids 0..len(vocab)-1 with shape (N, T): one row is one sequence (see `genbench.data.text`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from genbench.errors import GenbenchError
from genbench.registry import Registry, check_params

DATASETS: Registry = Registry("dataset")


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # "points" | "image" | "text"
    train: torch.Tensor
    test: torch.Tensor
    levels: int | None = None  # discrete data: values 0..levels-1 in each dimension
    modes: torch.Tensor | None = None  # known mode centres, shape (K, *shape)
    mode_std: float | None = None
    labels: dict | None = None  # class labels per split, where the data has them
    vocab: list[str] | None = None  # text: the symbol of each token id
    log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None  # exact data log-probability, where known
    description: str = ""
    params: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def dim(self) -> int:
        return math.prod(self.shape)

    def continuous(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Map data into the space models live in: uniform dequantization y = (x + u) / levels.

        A density p on [0,1]^D then bounds the discrete likelihood:
        log P(x) >= E_u log p((x+u)/L) - D log L  (Jensen), which is how bits/dim are reported.
        """
        if self.levels is None:
            return x
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + u) / self.levels

    def reference(self, split: str = "test") -> torch.Tensor:
        """Real data in model space, for sample-based metrics (cell centres for discrete data)."""
        x = {"train": self.train, "test": self.test}[split]
        return x if self.levels is None else (x + 0.5) / self.levels


def load_dataset(name: str, params: dict | None = None) -> Dataset:
    builder = DATASETS.get(name)
    params = dict(params or {})
    check_params(f"dataset {name!r}", builder, params)
    return builder(**params)


def check_samples(samples: np.ndarray | torch.Tensor, dataset: Dataset, what: str = "samples") -> torch.Tensor:
    """Refuse samples that cannot be scored against `dataset`, with a message saying why."""
    x = torch.as_tensor(np.asarray(samples))
    if x.ndim == 0 or x.shape[0] == 0:
        raise GenbenchError(f"{what} are empty")
    if not (x.is_floating_point() or x.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64)):
        raise GenbenchError(f"{what} have dtype {x.dtype}; expected numbers")
    x = x.to(torch.float32)
    want = dataset.shape
    single_channel = dataset.kind == "image" and want[0] == 1 and tuple(x.shape[1:]) == want[1:]
    if tuple(x.shape[1:]) != want and not single_channel:
        raise GenbenchError(
            f"{what} have shape {tuple(x.shape)}; dataset {dataset.name!r} needs (N, {', '.join(map(str, want))})"
        )
    x = x.reshape(x.shape[0], *want)
    bad = (~torch.isfinite(x)).any(dim=tuple(range(1, x.ndim)))
    if bad.any():
        raise GenbenchError(f"{what} contain NaN or inf in {int(bad.sum())} of {x.shape[0]} rows")
    if dataset.vocab is not None and ((x != x.round()) | (x < 0) | (x >= len(dataset.vocab))).any():
        raise GenbenchError(f"{what} must be token ids 0..{len(dataset.vocab) - 1} of {dataset.name!r}'s vocabulary")
    return x


# Registration happens on import: one module per dataset.
from genbench.data import digits, mixtures, oracle, text  # noqa: E402,F401
