"""The gradient-trained half of the model protocol.

A neural family only writes `loss(batch, generator)` (the paper's objective, a scalar to
minimise); `train_step` here does one optimizer step on it with the recipe's optimizer settings.
A family with several players (a GAN) overrides `configure_training` and `train_step`.
"""

from __future__ import annotations

import math

import torch

from genbench.models import GenerativeModel
from genbench.training import TrainConfig


def lr_factor(cfg: TrainConfig):
    """Linear warm-up, then constant or cosine decay to `min_lr` at `steps` (as a fraction of `lr`)."""
    floor = cfg.min_lr / cfg.lr

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            w = cfg.warmup_steps
            return {"(s+1)/w": (step + 1) / w, "(s+1)/(w+1)": (step + 1) / (w + 1), "s/w": step / w}[cfg.warmup_shape]
        if cfg.schedule == "cosine":
            progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return factor


def param_groups(module: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """AdamW's parameter groups: with weight_decay_on = "matrices" the decay skips parameters of
    fewer than 2 dimensions (biases, norm gains), which a decay toward 0 would only hurt (GPT-2, nanoGPT)."""
    params = list(module.parameters())
    if cfg.weight_decay_on == "all":
        return [{"params": params, "weight_decay": cfg.weight_decay}]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def player_optimizers(cfg: TrainConfig, *players: list[torch.nn.Module]) -> tuple[list, list]:
    """For a model of several players (a GAN's D and G), each a list of modules trained together: one
    AdamW per player (as every neural family, so `weight_decay` is decoupled decay everywhere) with the
    recipe's settings, and its learning-rate schedule."""
    opts = [torch.optim.AdamW([g for m in player for g in param_groups(m, cfg)], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
            for player in players]
    return opts, [torch.optim.lr_scheduler.LambdaLR(o, lr_factor(cfg)) for o in opts]


class NeuralModel(GenerativeModel):
    def loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def configure_training(self, cfg: TrainConfig) -> None:
        self.optimizer = torch.optim.AdamW(param_groups(self, cfg), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(cfg))
        self.grad_clip = cfg.grad_clip

    def optimizers(self) -> list:
        return [self.optimizer]

    def schedulers(self) -> list:
        return [self.scheduler]

    def train_step(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        self.train()
        loss = self.loss(batch, generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return {"loss": loss.item()}
