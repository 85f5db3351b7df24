"""Learning curves: a recipe's metrics scored every `[score] curve_every` steps while it trains.

Each point scores the weights the run would be scored with if it stopped there (the EMA's, where
the recipe keeps one) on the run's own scoring stream, seeded afresh at every point, so every
point sees the same latents, as the final score does (PacGAN's code scores a fixed z each epoch).
Scoring runs under a forked global RNG and puts back the model's mode and weights, so a curve
never changes the training it watches. The points are written beside the run (curve.json, atomically)
as they come; a resumed run keeps the points up to the step it resumes from and scores the rest
again, so a run cut off and resumed gives the same curve, bit for bit. The run record holds the
finished curve: {"every": K, "steps": [...], "metrics": {key: [value per step]}}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from genbench.io import atomic_write_json

FILE = "curve.json"


class Curve:
    def __init__(self, every: int, score: Callable[[object], dict[str, float]], path: Path | None = None):
        self.every, self.score, self.path = every, score, path
        self.points: list[dict] = []

    def start(self, step_done: int) -> None:
        """Called by the trainer once it knows where training starts: a fresh run (0) keeps no point."""
        saved = []
        if self.path is not None and step_done > 0:
            try:
                saved = json.loads((self.path / FILE).read_text(encoding="utf-8"))["points"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError):
                saved = []
        self.points = [p for p in saved if isinstance(p, dict) and p.get("step", 0) <= step_done]

    def after(self, step: int, model, ema_shadow: dict | None = None) -> None:
        """Called by the trainer after each step (and before that step's checkpoint)."""
        if step % self.every:
            return
        training = model.training
        saved = None
        if ema_shadow:
            saved = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict({**saved, **ema_shadow})
        try:
            with torch.random.fork_rng():
                values = self.score(model)
        finally:
            if saved is not None:
                model.load_state_dict(saved)
            model.train(training)
        self.points.append({"step": step, **values})
        if self.path is not None:
            atomic_write_json(self.path / FILE, {"every": self.every, "points": self.points})

    def summary(self) -> dict:
        keys = [k for p in self.points for k in p if k != "step"]
        keys = list(dict.fromkeys(keys))
        return {"every": self.every, "steps": [p["step"] for p in self.points],
                "metrics": {k: [p.get(k) for p in self.points] for k in keys}}

    def clear(self) -> None:
        if self.path is not None:
            (self.path / FILE).unlink(missing_ok=True)
