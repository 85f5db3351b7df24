"""scikit-learn's bundled 8x8 handwritten digits: 1797 images, 17 grey levels (0..16), no download."""

from __future__ import annotations

import torch

from genbench.data import DATASETS, Dataset
from genbench.registry import Natural, Proportion


@DATASETS.register("digits")
def digits(test_fraction: Proportion = 0.2, seed: Natural = 0) -> Dataset:
    """scikit-learn's 8x8 digits: 1797 images, 17 grey levels, fixed split by seed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1)  # (1797, 1, 8, 8)
    labels = torch.as_tensor(bunch.target)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_test = round(test_fraction * len(images))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return Dataset(name="digits", kind="image", train=images[train_idx], test=images[test_idx], levels=17,
                   labels={"train": labels[train_idx], "test": labels[test_idx]}, extractor="digits-cnn",
                   description="scikit-learn's 8x8 digits (1797 images, 17 grey levels), fixed split by seed",
                   params={"test_fraction": test_fraction, "seed": seed})
