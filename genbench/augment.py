"""Data augmentation for image batches, a [train] option: random horizontal flips and random shifts.

Applied to the integer pixel levels before dequantization, with the run's generator, so a resumed
run augments exactly as an uninterrupted one. A generative model learns the augmented distribution,
so use it only where the augmentation is a symmetry of the data (Fashion-MNIST's left-right flips,
small shifts), never for digits' flips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


def shift(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by (dy, dx), each uniform in [-pixels, pixels]; vacated pixels are 0."""
    N, H, W = len(x), x.shape[-2], x.shape[-1]
    d = torch.randint(-pixels, pixels + 1, (N, 2), generator=generator, device=x.device)
    padded = F.pad(x.reshape(N, -1, H, W), (pixels, pixels, pixels, pixels))
    rows = torch.arange(H, device=x.device) + pixels - d[:, :1]  # (N, H): source row of each output row
    cols = torch.arange(W, device=x.device) + pixels - d[:, 1:]
    n = torch.arange(N, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[n, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).reshape(x.shape)


def augment(x: torch.Tensor, flip: bool, pixels: int, generator: torch.Generator) -> torch.Tensor:
    if flip:
        x = hflip(x, generator)
    if pixels:
        x = shift(x, pixels, generator)
    return x
