"""The one training loop. It knows nothing of model families: it calls `initialize` once, then
`train_step` on batches until the step budget is spent or the model reports convergence."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
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
    ema: float = 0.0  # decay of an exponential moving average of the weights used for sampling; 0 = off
    checkpoint_every: int = 0  # save resumable state every N steps; 0 = never

    def as_dict(self) -> dict:
        return asdict(self)


def batch_indices(n: int, batch_size: int | str, step: int, seed: int) -> torch.Tensor | None:
    """Rows of step `step` (1-based): None for the full set, else a slice of a shuffled epoch.

    A pure function of (seed, step), so a resumed run sees exactly the batches it would have seen.
    """
    if batch_size == "full" or batch_size >= n:
        return None
    per_epoch = n // batch_size
    epoch, i = divmod(step - 1, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return order[i * batch_size:(i + 1) * batch_size]


class EMA:
    """Exponential moving average of the weights (Polyak averaging), swapped in after training."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model) -> None:
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v, 1 - self.decay)

    def copy_to(self, model) -> None:
        model.load_state_dict({**model.state_dict(), **self.shadow})


def model_device(model) -> torch.device:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def fit(model, dataset: Dataset, cfg: TrainConfig, generator: torch.Generator, progress: bool = True,
        state_dir: Path | None = None, seed: int = 0, state_key: str = "") -> dict:
    """Train `model`; with `state_dir`, save resumable state every `cfg.checkpoint_every` steps and
    resume from the last one found there."""
    from genbench import train_state

    device = model_device(model)
    x = dataset.train.to(device)
    start = time.perf_counter()
    model.initialize(dataset.continuous(x, generator), generator)
    model.configure_training(cfg)
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    first = 1
    saved = train_state.load(state_dir, state_key) if state_dir is not None else None
    if saved is not None:
        step_done, parts = saved
        model.load_state_dict(parts["model"])
        for opt, sd in zip(model.optimizers(), parts["optimizers"], strict=True):
            opt.load_state_dict(sd)
        for sched, sd in zip(model.schedulers(), parts["schedulers"], strict=True):
            sched.load_state_dict(sd)
        if ema is not None:
            ema.shadow = parts["ema"]
        generator.set_state(parts["rng"])
        first = step_done + 1
    stats: dict[str, float] = {}
    step = first - 1
    with tqdm(total=cfg.steps, initial=step, desc=f"train {model.name}", unit="step", disable=not progress or None,
              leave=False) as bar:
        for step in range(first, cfg.steps + 1):  # noqa: B007 (read after the loop)
            idx = batch_indices(len(x), cfg.batch_size, step, seed)
            batch = x if idx is None else x[idx.to(device)]
            stats = model.train_step(dataset.continuous(batch, generator), generator)
            if ema is not None:
                ema.update(model)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
            if state_dir is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                train_state.save(state_dir, step, {
                    "model": model.state_dict(), "optimizers": [o.state_dict() for o in model.optimizers()],
                    "schedulers": [s.state_dict() for s in model.schedulers()],
                    "ema": ema.shadow if ema is not None else {}, "rng": generator.get_state()}, state_key)
            if model.converged:
                break
    if ema is not None:
        ema.copy_to(model)
    return {"steps": step, "resumed_from": first - 1, "converged": bool(model.converged), "final": stats,
            "wall_time_s": time.perf_counter() - start}
