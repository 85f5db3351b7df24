"""Seed-batched training: a recipe's seeds trained as one computation.

The seeds' networks are stacked along a leading seed axis and one step is one `torch.func.vmap`
of the model's functional step over that axis, so S small networks cost about one larger one.
Everything random stays per seed: each seed keeps its own torch.Generator, epoch sampler and
augmentation draws, and the model draws a step's noise from it (`step_noise`) outside the vmap,
in the order its own `train_step` does. So a batched seed is the same seed run alone, to float
rounding (tests/test_seed_batch.py).

A model takes part when it gives its step in functional form (models' `step_noise`,
`step_objective` and `seed_batching`): the objective's gradient is every player's gradient at the
current weights, so the trainer never learns what a family is. Its optimizers must be element-wise
(Adam/AdamW: one optimizer over stacked tensors is S independent ones); gradient clipping is by
each seed's own norm, per optimizer, as `clip_grad_norm_` on one seed's parameters. Resumable state
is saved per seed, in the format `training.fit` writes, so either trainer resumes the other's runs.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import torch
from torch import func
from tqdm.auto import tqdm

from genbench import train_state
from genbench.augment import augment
from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.training import EMA, EpochSampler, TrainConfig, model_device, restore, state_parts

ELEMENTWISE = (torch.optim.Adam, torch.optim.AdamW)
SHOW_EVERY = 100  # steps between progress-bar loss readouts (each readout waits for the device)


def why_not_batched(model, cfg: TrainConfig) -> str | None:
    """Why `model` cannot train seed-batched under `cfg`, or None when it can (needs
    `configure_training` done)."""
    reason = model.seed_batching()
    if reason is not None:
        return reason
    if cfg.compile:
        return "[train] compile does not apply to seed-batched training (the vmapped step is not compiled)"
    for opt in model.optimizers():
        if not isinstance(opt, ELEMENTWISE):
            return f"its optimizer {type(opt).__name__} is not element-wise (Adam/AdamW are)"
    return None


class _Objective(torch.nn.Module):
    """`model.step_objective` as a module's forward, so `functional_call` can swap in one seed's tensors."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch, noise):
        return self.model.step_objective(batch, noise)


class _Stacked:
    """Named tensors with a seed axis first; `state_dict` lets training.EMA average them."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.tensors


class SeedStack:
    """S models of one recipe as stacked parameters, buffers and optimizers, and back."""

    def __init__(self, models: list, cfg: TrainConfig):
        self.models, self.cfg = models, cfg
        first = models[0]
        self.param_names = [n for n, _ in first.named_parameters()]
        self.buffer_names = [n for n, _ in first.named_buffers()]
        with torch.no_grad():
            self.params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).requires_grad_(True)
                           for n in self.param_names}
            self.buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in models]) for n in self.buffer_names}
        name_of = [{id(p): n for n, p in m.named_parameters()} for m in models]
        # One stacked optimizer per model optimizer, its groups' settings (lr, betas, decay) as the model's.
        self.opts, self.groups = [], []  # groups[k][j]: names of optimizer k's group j, in order
        for k, opt in enumerate(first.optimizers()):
            groups, names = [], []
            for group in opt.param_groups:
                ns = [name_of[0][id(p)] for p in group["params"]]
                names.append(ns)
                groups.append({**{key: v for key, v in group.items() if key != "params"},
                               "params": [self.params[n] for n in ns]})
            self.opts.append(type(opt)(groups))
            self.groups.append(names)
            for m in models[1:]:  # the seeds' optimizers must be alike, group for group
                other = [[name_of[models.index(m)][id(p)] for p in g["params"]] for g in m.optimizers()[k].param_groups]
                if other != names:
                    raise GenbenchError("seed-batched training needs every seed's optimizers over the same parameters")
        self.load_optimizer_states()
        self.step_all = func.vmap(func.grad(self._objective, has_aux=True), in_dims=(0, 0, 0, 0))
        self.objective = _Objective(first)

    def _objective(self, params, buffers, batch, noise):
        loss, stats = func.functional_call(self.objective, ({f"model.{n}": p for n, p in params.items()},
                                                            {f"model.{n}": b for n, b in buffers.items()}),
                                           (batch, noise))
        return loss, stats

    def load_optimizer_states(self) -> None:
        """Stack the seeds' own optimizer states (empty before the first step; a resumed run's otherwise)."""
        for k, opt in enumerate(self.opts):
            for names in self.groups[k]:
                for n in names:
                    per_seed = [m.optimizers()[k].state.get(dict(m.named_parameters())[n], {}) for m in self.models]
                    if not per_seed[0]:
                        continue
                    opt.state[self.params[n]] = {
                        key: torch.stack([s[key] for s in per_seed]) if v.dim() > 0 else v.clone()
                        for key, v in per_seed[0].items()}

    @torch.no_grad()
    def unstack(self) -> None:
        """Write the stacked parameters, buffers and optimizer states back into each seed's model."""
        for s, m in enumerate(self.models):
            params, buffers = dict(m.named_parameters()), dict(m.named_buffers())
            for n in self.param_names:
                params[n].copy_(self.params[n][s])
            for n in self.buffer_names:
                buffers[n].copy_(self.buffers[n][s])
            for k, opt in enumerate(self.opts):
                own = m.optimizers()[k]
                for n in (n for names in self.groups[k] for n in names):
                    state = opt.state.get(self.params[n])
                    if state:
                        own.state[params[n]] = {key: v[s].clone() if v.dim() > 0 else v.clone()
                                                for key, v in state.items()}

    def step(self, batches: torch.Tensor, noise: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        grads, stats = self.step_all(self.params, self.buffers, batches, noise)
        if self.cfg.grad_clip > 0:
            for names in self.groups:
                flat = [n for g in names for n in g]
                norm = torch.stack([grads[n].flatten(1).pow(2).sum(1) for n in flat]).sum(0).sqrt()
                scale = (self.cfg.grad_clip / (norm + 1e-6)).clamp(max=1.0)
                for n in flat:
                    grads[n] = grads[n] * scale.view(-1, *[1] * (grads[n].dim() - 1))
        for n, p in self.params.items():
            p.grad = grads[n]
        for opt in self.opts:
            opt.step()
        return stats


def fit_seeds(models: list, dataset: Dataset, cfg: TrainConfig, generators: list[torch.Generator],
              progress: bool = True, state_dirs: list[Path] | None = None, state_keys: list[str] | None = None,
              label: str = "", curves: list | None = None) -> list[dict]:
    """Train the models of one recipe's seeds together (each with its own generator); returns each
    seed's training info as `training.fit` does. With `state_dirs`, resumable state is saved per
    seed every `cfg.checkpoint_every` steps, and seeds that saved the same step resume together.
    With `curves` (a genbench.curve.Curve per seed), each seed is scored along the way."""
    cfg.check(dataset)
    device = model_device(models[0])
    x = dataset.train.to(device)
    start = time.perf_counter()
    for m, g in zip(models, generators, strict=True):
        m.initialize(dataset.continuous(x, g), g)
        m.configure_training(cfg)
        reason = why_not_batched(m, cfg)
        if reason is not None:
            raise GenbenchError(f"model {m.name!r} cannot train seed-batched: {reason}")
    rows = [m.training_rows(x, g) for m, g in zip(models, generators, strict=True)]  # as fit draws them
    samplers = [EpochSampler(len(r), cfg.batch_size, g, cfg.sampling == "replacement")
                for r, g in zip(rows, generators, strict=True)]
    emas = [None] * len(models)
    first = [1] * len(models)
    for i, m in enumerate(models):
        saved = train_state.load(state_dirs[i], state_keys[i]) if state_dirs is not None else None
        if saved is None:
            continue
        step_done, parts = saved
        restore(m, parts)
        emas[i] = parts["ema"]
        generators[i].set_state(parts["rng"])
        samplers[i].load_state_dict(parts["sampler"])
        first[i] = step_done + 1
    for i, curve in enumerate(curves or []):
        curve.start(first[i] - 1)
    infos: list[dict] = [{} for _ in models]
    for start_step in sorted(set(first)):
        group = [i for i in range(len(models)) if first[i] == start_step]
        for i, info in zip(group, _fit_group([models[i] for i in group], [rows[i] for i in group], dataset, cfg,
                                              [generators[i] for i in group], [samplers[i] for i in group],
                                              [emas[i] for i in group], start_step, progress,
                                              [state_dirs[i] for i in group] if state_dirs is not None else None,
                                              [state_keys[i] for i in group] if state_keys is not None else None,
                                              label, [curves[i] for i in group] if curves else None),
                               strict=True):
            infos[i] = info
    wall = time.perf_counter() - start
    return [{**info, "wall_time_s": wall, "seeds_batched": len(models)} for info in infos]


def _fit_group(models, rows, dataset, cfg, generators, samplers, saved_emas, first, progress, state_dirs, state_keys,
               label, curves) -> list[dict]:
    stack = SeedStack(models, cfg)
    ema = None
    if cfg.ema > 0:
        ema = EMA(_Stacked({**stack.params, **stack.buffers}), cfg.ema, cfg.ema_warmup)
        if saved_emas[0]:
            ema.shadow = {k: torch.stack([e[k] for e in saved_emas]) for k in ema.shadow}
    for m in models:
        m.train()
    stats: dict[str, torch.Tensor] = {}
    step = first - 1
    with warnings.catch_warnings(), tqdm(total=cfg.steps, initial=step, unit="step", leave=False,
                                         desc=f"train {label or models[0].name} x{len(models)} seeds",
                                         disable=not progress or None) as bar:
        # The seeds' schedulers step beside their (unstepped) optimizers, to keep their state and lr.
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
        for step in range(first, cfg.steps + 1):  # noqa: B007 (read after the loop)
            batches, noises = [], []
            for m, x, g, sampler in zip(models, rows, generators, samplers, strict=True):
                idx = sampler.next()
                batch = x if idx is None else x[idx]
                if cfg.augmenting:
                    batch = augment(batch, cfg.augment_flip, cfg.augment_shift, g)
                batch = dataset.continuous(batch, g)
                batches.append(batch)
                noises.append(m.step_noise(batch, g))
            noise = {k: torch.stack([n[k] for n in noises]) for k in noises[0]}
            with torch.autocast(rows[0].device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                stats = stack.step(torch.stack(batches), noise)
            for m in models:
                for sched in m.schedulers():
                    sched.step()
            for k, opt in enumerate(stack.opts):
                for group, own in zip(opt.param_groups, models[0].optimizers()[k].param_groups, strict=True):
                    group["lr"] = own["lr"]
            if ema is not None:
                ema.update(_Stacked({**stack.params, **stack.buffers}), step)
            bar.update(1)
            if progress and step % SHOW_EVERY == 0:
                bar.set_postfix({k: f"{v.mean().item():.4g}" for k, v in stats.items()}, refresh=False)
            if curves and step % curves[0].every == 0:
                stack.unstack()
                for s, (m, curve) in enumerate(zip(models, curves, strict=True)):
                    curve.after(step, m, {k: v[s] for k, v in ema.shadow.items()} if ema is not None else None)
            if state_dirs is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                stack.unstack()
                for s, m in enumerate(models):
                    shadow = {k: v[s].clone() for k, v in ema.shadow.items()} if ema is not None else {}
                    train_state.save(state_dirs[s], step, state_parts(m, shadow, generators[s], samplers[s]),
                                     state_keys[s])
    stack.unstack()
    if ema is not None:
        for s, m in enumerate(models):
            m.load_state_dict({**m.state_dict(), **{k: v[s] for k, v in ema.shadow.items()}})
    final = {k: v.tolist() for k, v in stats.items()}
    return [{"steps": step, "resumed_from": first - 1, "converged": False,
             "final": {k: v[s] for k, v in final.items()}} for s in range(len(models))]
