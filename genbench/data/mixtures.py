"""2-D Gaussian mixtures with known modes, as in the PacGAN paper's synthetic experiments.

ring8: 8 modes evenly on a circle of radius 1, std 0.01.
grid25: 25 modes on {-4,-2,0,2,4}^2, std 0.05.
Every mode has equal weight, so a perfect model covers all of them uniformly.
"""

from __future__ import annotations

import math

import torch

from genbench.data import DATASETS, Dataset
from genbench.registry import Count, Natural


def _mixture(name: str, modes: torch.Tensor, std: float, n_train: int, n_test: int, seed: int, description: str) -> Dataset:
    g = torch.Generator().manual_seed(seed)

    def draw(n: int) -> torch.Tensor:
        k = torch.randint(len(modes), (n,), generator=g)
        return modes[k] + std * torch.randn(n, modes.shape[1], generator=g)

    train, test = draw(n_train), draw(n_test)
    return Dataset(name=name, kind="points", train=train, test=test, modes=modes, n_modes=len(modes), mode_std=std,
                   description=description,
                   params={"n_train": n_train, "n_test": n_test, "seed": seed})


@DATASETS.register("ring8")
def ring8(n_train: Count = 10000, n_test: Count = 2500, seed: Natural = 0) -> Dataset:
    """8 Gaussians on a circle of radius 1, std 0.01 (known modes)."""
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    modes = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return _mixture("ring8", modes, 0.01, n_train, n_test, seed,
                    "8 Gaussians on a circle of radius 1, std 0.01 (PacGAN)")


@DATASETS.register("grid25")
def grid25(n_train: Count = 10000, n_test: Count = 2500, seed: Natural = 0) -> Dataset:
    """25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (known modes)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    modes = torch.cartesian_prod(axis, axis)
    return _mixture("grid25", modes, 0.05, n_train, n_test, seed,
                    "25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (PacGAN)")
