"""Stacked digits: three 8x8 digits as the three channels of one image, so 10^3 = 1000 modes.

The Stacked-MNIST construction (Metz et al. 2017; VEEGAN; PacGAN) on scikit-learn's digits: each
image draws three digits independently and uniformly, so every one of the 1000 digit triples is
a mode of equal weight. Training images are built from the digits' train split, test images
from its test split, so no source digit is shared between them.
"""

from __future__ import annotations

import torch

from genbench.data import DATASETS, Dataset, load_dataset
from genbench.registry import Count, Natural


def stack(images: torch.Tensor, labels: torch.Tensor, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.randint(len(images), (n, 3), generator=g)
    x = images[idx].squeeze(2)  # (n, 3, 8, 8): channel c is digit idx[:, c]
    y = labels[idx]
    return x, y[:, 0] * 100 + y[:, 1] * 10 + y[:, 2]


@DATASETS.register("stacked-digits")
def stacked_digits(n_train: Count = 20000, n_test: Count = 26000, seed: Natural = 0) -> Dataset:
    """Three 8x8 digits as RGB channels: 1000 equally likely modes (Stacked-MNIST on digits)."""
    digits = load_dataset("digits")
    g = torch.Generator().manual_seed(seed)
    x_train, y_train = stack(digits.train, digits.labels["train"], n_train, g)
    x_test, y_test = stack(digits.test, digits.labels["test"], n_test, g)
    return Dataset(name="stacked-digits", kind="image", train=x_train, test=x_test, levels=17,
                   labels={"train": y_train, "test": y_test}, n_modes=1000, mode_classifier="digits-cnn-stacked",
                   extractor="digits-cnn-stacked",
                   description="three 8x8 digits stacked as channels: 1000 modes",
                   params={"n_train": n_train, "n_test": n_test, "seed": seed})
