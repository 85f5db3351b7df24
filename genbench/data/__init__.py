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
    n_modes: int | None = None  # how many known modes (by centre: len(modes); by label: stacked digits)
    mode_classifier: str | None = None  # feature extractor whose classes name those modes
    extractor: str | None = None  # default feature extractor for image metrics
    vocab: list[str] | None = None  # text: the symbol of each token id
    stream: bool = False  # text: the test rows are consecutive windows of one text (end to end: that text)
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
    """Refuse samples that cannot be scored against `dataset`, with a message saying why.

    Images may be uint8 in 0..255 or float in [0, 1], shaped (N, C, H, W) or, with one channel,
    (N, H, W); they come back as float in [0, 1], (N, C, H, W).
    """
    x = torch.as_tensor(np.asarray(samples))
    if x.ndim == 0 or x.shape[0] == 0:
        raise GenbenchError(f"{what} are empty")
    if x.dtype == torch.bool or x.is_complex():
        raise GenbenchError(f"{what} have dtype {x.dtype}; expected numbers")
    want = dataset.shape
    single_channel = dataset.kind == "image" and want[0] == 1 and tuple(x.shape[1:]) == want[1:]
    if tuple(x.shape[1:]) != want and not single_channel:
        layout = f"(N, {', '.join(map(str, want))})"
        if dataset.kind == "image" and want[0] == 1:
            layout += f" or (N, {want[1]}, {want[2]})"
        raise GenbenchError(f"{what} have shape {tuple(x.shape)}; dataset {dataset.name!r} needs {layout}")
    is_uint8 = x.dtype == torch.uint8
    if dataset.kind == "image" and not (is_uint8 or x.is_floating_point()):
        raise GenbenchError(f"{what} have dtype {x.dtype}; images must be uint8 (0..255) or float in [0, 1]")
    bad = (~torch.isfinite(x)).reshape(len(x), -1).any(dim=1) if x.is_floating_point() else None
    if bad is not None and bad.any():
        raise GenbenchError(f"{what} contain NaN or inf in {int(bad.sum())} of {x.shape[0]} rows")
    if x.is_floating_point() and x.dtype != torch.float32:
        # finite, but beyond float32 (±3.4e38), where samples are scored: they would turn into inf there
        big = (x.abs() > torch.finfo(torch.float32).max).reshape(len(x), -1).any(dim=1)
        if big.any():
            raise GenbenchError(f"{what} hold values beyond float32's range (±{torch.finfo(torch.float32).max:.3g}), "
                                f"e.g. {x.abs().max().item():.3g}, in {int(big.sum())} of {x.shape[0]} rows")
    x = x.to(torch.float32).reshape(x.shape[0], *want)
    if dataset.vocab is not None and ((x != x.round()) | (x < 0) | (x >= len(dataset.vocab))).any():
        raise GenbenchError(f"{what} must be token ids 0..{len(dataset.vocab) - 1} of {dataset.name!r}'s vocabulary")
    if dataset.kind == "image":
        if is_uint8:
            return x / 255.0
        lo, hi = x.min().item(), x.max().item()
        if lo < 0 or hi > 1:
            raise GenbenchError(f"{what} have values in [{lo:.4g}, {hi:.4g}]; float images must lie in [0, 1] "
                                "(or pass uint8 0..255)")
    return x


# Registration happens on import: one module per dataset.
from genbench.data import digits, fashion_mnist, mixtures, mnist, oracle, stacked_digits, text, veegan_ring  # noqa: E402,F401
