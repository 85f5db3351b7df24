"""Sample plots: a scatter against the known modes for points, a grid for images."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch

from genbench.data import Dataset
from genbench.io import atomic_write_bytes

GRID = 64  # images shown in an image plot: drawing more would only cost sampling time


def sample_figure(samples: torch.Tensor, dataset: Dataset, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if dataset.kind == "points":
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        real = dataset.test[:2500]
        ax.scatter(real[:, 0], real[:, 1], s=2, c="#bbbbbb", label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="#1f77b4", alpha=0.6, label="samples")
        if dataset.modes is not None:
            ax.scatter(dataset.modes[:, 0], dataset.modes[:, 1], marker="x", c="red", s=20, label="modes")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=6, markerscale=3)
    else:
        n = min(len(samples), GRID)
        side = int(math.ceil(math.sqrt(n)))
        imgs = samples[:n].clamp(0, 1)
        c, h, w = imgs.shape[1:]
        grid = torch.ones(c, side * (h + 1), side * (w + 1))
        for i in range(n):
            r, q = divmod(i, side)
            grid[:, r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = imgs[i]
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.imshow(grid[0] if c == 1 else grid.permute(1, 2, 0), cmap="gray" if c == 1 else None,
                  interpolation="nearest", vmin=0, vmax=1)
        ax.axis("off")
    ax.set_title(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_sample_plot(path: Path, samples: torch.Tensor, dataset: Dataset, title: str) -> Path:
    return atomic_write_bytes(path, sample_figure(samples, dataset, title))
