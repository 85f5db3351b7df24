"""VEEGAN's 2-D ring (Srivastava et al., NeurIPS 2017, Sec. 5.1: "a mixture of eight 2D Gaussian
distributions arranged in a ring"): 8 equal-weight Gaussians with means 4 (cos k pi/4, sin k pi/4),
k = 0..7, and std 0.05 in each coordinate, as the one public copy of the paper's ring notebook
(akashgit/VEEGAN's VEEGAN_2D_RING.ipynb, itself no longer in that repository) sets them: a radius of
80 standard deviations, where PacGAN's ring8 has radius 1 and std 0.01. The paper's text gives no
radius or std. (Its grid is genbench's grid25, {-4,-2,0,2,4}^2 with std 0.05, in every copy.)
"""

from __future__ import annotations

import math

import torch

from genbench.data import DATASETS, Dataset
from genbench.data.mixtures import _mixture
from genbench.registry import Count, Natural

RADIUS, STD = 4.0, 0.05


@DATASETS.register("ring8-veegan")
def ring8_veegan(n_train: Count = 10000, n_test: Count = 2500, seed: Natural = 0) -> Dataset:
    """8 Gaussians on a circle of radius 4, std 0.05 (VEEGAN's ring notebook; known modes)."""
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    modes = RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return _mixture("ring8-veegan", modes, STD, n_train, n_test, seed,
                    "8 Gaussians on a circle of radius 4, std 0.05 (VEEGAN's ring notebook)")
