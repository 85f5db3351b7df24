"""The one training loop. It knows nothing of model families: it calls `initialize` once, then
`train_step` on batches until the step budget is spent or the model reports convergence."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from tqdm.auto import tqdm

from genbench.augment import augment
from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.registry import Count, Fraction, Natural, NonNegative, Positive


@dataclass(frozen=True)
class TrainConfig:
    """The recipe's [train] table. Optimizer settings apply to gradient-trained models only; ranges
    are declared with the types and checked when a recipe is loaded (genbench.registry.check_params)."""

    steps: Count = 100
    batch_size: Count | Literal["full"] = "full"
    lr: Positive = 1e-3
    beta1: Fraction = 0.9
    beta2: Fraction = 0.999
    weight_decay: NonNegative = 0.0
    grad_clip: NonNegative = 0.0  # max gradient norm; 0 = off
    warmup_steps: Natural = 0
    # The warm-up's factor at update s (0-based) of w: "(s+1)/w" reaches lr at the last warm-up step;
    # "(s+1)/(w+1)" is nanoGPT's get_lr today, "s/w" as it was written up to 2024 (a first step at lr 0).
    warmup_shape: Literal["(s+1)/w", "(s+1)/(w+1)", "s/w"] = "(s+1)/w"
    schedule: Literal["constant", "cosine"] = "constant"
    min_lr: NonNegative = 0.0  # where the cosine schedule ends, at `steps` (nanoGPT's min_lr)
    weight_decay_on: Literal["all", "matrices"] = "all"  # matrices: only parameters of >= 2 dims (nanoGPT, GPT-2)
    ema: Fraction = 0.0  # decay of an exponential moving average of the weights used for sampling; 0 = off
    ema_warmup: bool = False  # ramp the EMA's decay up as min(ema, (1 + k) / (10 + k)) after k updates
    # How batches are drawn: "epochs" shuffles the rows and walks them (each row once an epoch);
    # "replacement" draws each row of each batch independently and uniformly (nanoGPT's get_batch).
    sampling: Literal["epochs", "replacement"] = "epochs"
    checkpoint_every: Natural = 0  # save resumable state every N steps; 0 = never
    augment_flip: bool = False  # images: random left-right flips (genbench.augment)
    augment_shift: Natural = 0  # images: random shifts of up to N pixels; 0 = off
    # Speed options, meaning the same on every device (on the CPU they rarely pay):
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: autocast around train_step (no loss scaling: bf16 has fp32's range)
    channels_last: bool = False  # images: model and batches in NHWC memory layout (tensor cores' layout)
    compile: bool = False  # torch.compile each of the model's child modules, in place (state-dict keys unchanged)
    # Batch norm and dropout are model options (they change the network), not trainer options.

    @property
    def augmenting(self) -> bool:
        return self.augment_flip or self.augment_shift != 0

    def check(self, dataset: Dataset) -> None:
        """Refuse settings this dataset cannot take (called before a run writes anything)."""
        if self.augmenting and dataset.kind != "image":
            raise GenbenchError(f"[train] augment_flip / augment_shift apply to image datasets; "
                                f"{dataset.name!r} is {dataset.kind}")
        if self.ema_warmup and self.ema == 0:
            raise GenbenchError("[train] ema_warmup ramps the decay of an EMA of the weights; set ema > 0 or drop it")
        if self.min_lr and (self.schedule != "cosine" or self.min_lr > self.lr):
            raise GenbenchError(f"[train] min_lr is where the cosine schedule ends: it needs schedule = \"cosine\" "
                                f"and min_lr <= lr, got schedule {self.schedule!r}, min_lr {self.min_lr}, lr {self.lr}")
        if self.sampling == "replacement" and self.batch_size == "full":
            raise GenbenchError('[train] sampling = "replacement" draws batch_size rows per step; give batch_size a number')
        if self.warmup_shape != "(s+1)/w" and not self.warmup_steps:
            raise GenbenchError(f"[train] warmup_shape {self.warmup_shape!r} shapes a warm-up; set warmup_steps > 0 or drop it")
        if self.channels_last and dataset.kind != "image":
            raise GenbenchError(f"[train] channels_last applies to image datasets; {dataset.name!r} is {dataset.kind}")


class EpochSampler:
    """Shuffled epochs of `batch_size` rows, each permutation drawn from the run's generator when
    the previous epoch is used up (the full set every step when batch_size is "full"); with
    `replacement`, each batch's rows drawn independently instead. Its state is saved with the
    training state, so a resumed run sees exactly the batches it would have seen."""

    def __init__(self, n: int, batch_size: int | str, generator: torch.Generator, replacement: bool = False):
        self.full = batch_size == "full" or (batch_size >= n and not replacement)
        self.n, self.batch_size, self.generator, self.replacement = n, batch_size, generator, replacement
        self.order: torch.Tensor | None = None
        self.position = 0

    def next(self) -> torch.Tensor | None:
        if self.full:
            return None
        if self.replacement:  # all its state is the generator's
            return torch.randint(self.n, (self.batch_size,), generator=self.generator, device=self.generator.device)
        if self.order is None or self.position + self.batch_size > self.n:
            self.order = torch.randperm(self.n, generator=self.generator, device=self.generator.device)
            self.position = 0
        idx = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return idx

    def state_dict(self) -> dict:
        return {"order": self.order if self.order is not None else torch.empty(0, dtype=torch.long),
                "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.order = state["order"] if len(state["order"]) else None
        self.position = state["position"]


class EMA:
    """Exponential moving average of the weights (Polyak averaging), swapped in after training.

    Started from the initial weights, a fixed decay d keeps d^k of them after k updates (0.999^3000:
    5 %); with `warmup` the decay after k updates is min(d, (1 + k) / (10 + k)), so the average
    forgets its start within the first few dozen steps (as TensorFlow's ExponentialMovingAverage
    with num_updates, and the DDPM/diffusers implementations, do)."""

    def __init__(self, model, decay: float, warmup: bool = False):
        self.decay, self.warmup = decay, warmup
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    def decay_at(self, updates: int) -> float:
        """The decay applied by update number `updates` (1, 2, ...)."""
        return min(self.decay, (1 + updates) / (10 + updates)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model, updates: int) -> None:
        decay = self.decay_at(updates)
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v, 1 - decay)

    def copy_to(self, model) -> None:
        model.load_state_dict({**model.state_dict(), **self.shadow})


def state_parts(model, ema_shadow: dict, generator: torch.Generator, sampler: EpochSampler) -> dict:
    """A run's resumable training state, as train_state saves it (the same for every trainer)."""
    return {"model": model.state_dict(), "optimizers": [o.state_dict() for o in model.optimizers()],
            "schedulers": [s.state_dict() for s in model.schedulers()], "ema": ema_shadow,
            "rng": generator.get_state(), "sampler": sampler.state_dict()}


def restore(model, parts: dict) -> None:
    """Load a saved state's weights, optimizers and schedulers into `model` (the rest is the trainer's)."""
    model.load_state_dict(parts["model"])
    for opt, sd in zip(model.optimizers(), parts["optimizers"], strict=True):
        opt.load_state_dict(sd)
    for sched, sd in zip(model.schedulers(), parts["schedulers"], strict=True):
        sched.load_state_dict(sd)


def model_device(model) -> torch.device:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def fit(model, dataset: Dataset, cfg: TrainConfig, generator: torch.Generator, progress: bool = True,
        state_dir: Path | None = None, state_key: str = "", curve=None) -> dict:
    """Train `model`; with `state_dir`, save resumable state every `cfg.checkpoint_every` steps and
    resume from the last one found there. Under torchrun, data-parallel (genbench.distributed).
    With `curve` (a genbench.curve.Curve), the model is scored along the way."""
    from genbench import distributed, train_state

    cfg.check(dataset)
    world, writer = distributed.size(), distributed.rank() == 0
    distributed.check(model, cfg.batch_size, len(dataset.train))
    device = model_device(model)
    x = dataset.train.to(device)
    start = time.perf_counter()
    model.initialize(dataset.continuous(x, generator), generator)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.compile:
        for child in model.children():
            child.compile()  # in place: no `_orig_mod.` wrapper, so checkpoints keep their keys
    x = model.training_rows(x, generator)
    model.configure_training(cfg)
    ema = EMA(model, cfg.ema, cfg.ema_warmup) if cfg.ema > 0 else None
    sampler = EpochSampler(len(x), cfg.batch_size, generator, cfg.sampling == "replacement")  # the global batches, the same on every rank
    own = generator if world == 1 else distributed.rank_generator(generator)
    if world > 1:
        distributed.average_gradients(model)
    first = 1
    saved = train_state.load(state_dir, state_key) if state_dir is not None else None
    if saved is not None:
        step_done, parts = saved
        restore(model, parts)
        if ema is not None:
            ema.shadow = parts["ema"]
        generator.set_state(parts["rng"])
        if world > 1:
            own.set_state(parts["rank_rng"][distributed.rank()])
        sampler.load_state_dict(parts["sampler"])
        first = step_done + 1
    if curve is not None:
        curve.start(first - 1)
    stats: dict[str, float] = {}
    step = first - 1
    with tqdm(total=cfg.steps, initial=step, desc=f"train {model.name}", unit="step",
              disable=not (progress and writer) or None, leave=False) as bar:
        for step in range(first, cfg.steps + 1):  # noqa: B007 (read after the loop)
            idx = sampler.next()
            batch = x if idx is None else x[idx]
            if world > 1:
                batch = distributed.share(batch)
            if cfg.augmenting:
                batch = augment(batch, cfg.augment_flip, cfg.augment_shift, own)
            batch = dataset.continuous(batch, own)
            if cfg.channels_last and batch.dim() == 4:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                stats = model.train_step(batch, own)
            if world > 1:
                stats = distributed.mean(stats)
            if ema is not None:
                ema.update(model, step)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
            if curve is not None:
                curve.after(step, model, ema.shadow if ema is not None else None)
            if state_dir is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                rank_rng = distributed.gather_states(own) if world > 1 else []
                if writer:
                    train_state.save(state_dir, step, {
                        **state_parts(model, ema.shadow if ema is not None else {}, generator, sampler),
                        **({"rank_rng": rank_rng} if world > 1 else {})}, state_key)
            if model.converged:
                break
    if ema is not None:
        ema.copy_to(model)
    return {"steps": step, "resumed_from": first - 1, "converged": bool(model.converged), "final": stats,
            "wall_time_s": time.perf_counter() - start, **({"processes": world} if world > 1 else {})}
