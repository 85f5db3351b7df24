"""The one training loop. It knows nothing of model families: it calls `initialize` once, then
`train_step` on batches until the step budget is spent or the model reports convergence."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from tqdm.auto import tqdm

from genbench.data import Dataset


@dataclass(frozen=True)
class TrainConfig:
    """The recipe's [train] table. Optimizer settings apply to gradient-trained models only."""

    steps: int = 100
    batch_size: int | Literal["full"] = "full"
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine"] = "constant"

    def as_dict(self) -> dict:
        return asdict(self)


def batches(n: int, batch_size: int | str, generator: torch.Generator, device):
    """Endless index batches: the full set each step, or shuffled epochs of `batch_size`."""
    if batch_size == "full" or batch_size >= n:
        while True:
            yield None
    while True:
        order = torch.randperm(n, generator=generator, device=device)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


def model_device(model) -> torch.device:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def fit(model, dataset: Dataset, cfg: TrainConfig, generator: torch.Generator, progress: bool = True) -> dict:
    device = model_device(model)
    x = dataset.train.to(device)
    start = time.perf_counter()
    model.initialize(dataset.continuous(x, generator), generator)
    model.configure_training(cfg)
    stats: dict[str, float] = {}
    step = 0
    index_batches = batches(len(x), cfg.batch_size, generator, device)
    with tqdm(total=cfg.steps, desc=f"train {model.name}", unit="step", disable=not progress or None, leave=False) as bar:
        for step in range(1, cfg.steps + 1):  # noqa: B007 (read after the loop)
            idx = next(index_batches)
            batch = x if idx is None else x[idx]
            stats = model.train_step(dataset.continuous(batch, generator), generator)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
            if model.converged:
                break
    return {"steps": step, "converged": bool(model.converged), "final": stats,
            "wall_time_s": time.perf_counter() - start}
