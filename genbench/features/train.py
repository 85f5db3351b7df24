"""Train a domain classifier by its recipe (baselines/<dataset>/classifier.toml) and write its
weights (safetensors) and a JSON record with their SHA-256 and test accuracy beside the recipe.

Training sees dequantized images (the same uniform noise models train on) and random shifts, so
the features are stable on continuous model samples and not only on the exact pixel grid.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from genbench.data import load_dataset
from genbench.env import hardware, seed_everything, versions
from genbench.errors import GenbenchError
from genbench.features.cnn import DomainCNN
from genbench.io import atomic_write_bytes, atomic_write_json
from genbench.paths import baselines_dir
from genbench.registry import (
    Count,
    Natural,
    NonNegative,
    Positive,
    check_params,
    unknown_name_message,
)

TOP_KEYS = {"version", "description", "dataset", "seed", "classifier", "train"}


@dataclass(frozen=True)
class ClassifierTrain:
    epochs: Count = 20
    batch_size: Count = 64
    lr: Positive = 2e-3
    weight_decay: NonNegative = 5e-4
    shift: Natural = 1  # random translation, pixels


def load_classifier_recipe(name_or_path: str | os.PathLike, baselines: str | os.PathLike | None = None) -> tuple[Path, dict]:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = baselines_dir(baselines) / str(name_or_path) / "classifier.toml"
    if not path.is_file():
        raise GenbenchError(f"classifier recipe {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GenbenchError(f"classifier recipe {path} is not valid TOML ({e})") from None
    for key in raw:
        if key not in TOP_KEYS:
            raise GenbenchError(f"{path}: " + unknown_name_message("classifier recipe key", key, sorted(TOP_KEYS)))
    if not isinstance(raw.get("dataset"), str):
        raise GenbenchError(f"{path}: missing 'dataset'")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise GenbenchError(f"{path}: 'seed' must be a non-negative integer, got {seed!r}")
    check_params("[classifier]", DomainCNN.__init__, raw.get("classifier", {}), skip=("self", "channels", "classes"),
                 where=str(path))
    check_params("[train]", ClassifierTrain, raw.get("train", {}), where=str(path))
    return path, raw


def random_shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=g)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h))[:, :, None].expand(n, h, w)
    cols = (dx[:, None] + torch.arange(w))[:, None, :].expand(n, h, w)
    idx = torch.arange(n)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)


@torch.no_grad()
def accuracy(net: DomainCNN, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    correct = sum((net(xb).argmax(1) == yb).sum().item() for xb, yb in zip(x.split(1024), y.split(1024), strict=True))
    return correct / len(y)


def train_extractor(recipe: str, baselines: str | os.PathLike | None = None, quiet: bool = False) -> dict:
    path, raw = load_classifier_recipe(recipe, baselines)
    cfg = ClassifierTrain(**raw.get("train", {}))
    seed = raw.get("seed", 0)
    ds = load_dataset(raw["dataset"])
    if ds.labels is None or ds.kind != "image":
        raise GenbenchError(f"dataset {ds.name!r} has no image labels to train a classifier on")
    g = seed_everything(seed, torch.device("cpu"))
    classes = int(ds.labels["train"].max()) + 1
    net = DomainCNN(channels=ds.shape[0], classes=classes, **raw.get("classifier", {}))
    steps_per_epoch = len(ds.train) // cfg.batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    x_test, y_test = ds.reference("test"), ds.labels["test"]
    start = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc=f"train {ds.name} classifier", unit="epoch", disable=quiet or None)
    for _ in bar:
        net.train()
        order = torch.randperm(len(ds.train), generator=g)
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x = random_shift(ds.continuous(ds.train[idx], g), cfg.shift, g)
            loss = F.cross_entropy(net(x), ds.labels["train"][idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    train_time = time.perf_counter() - start
    acc = accuracy(net, x_test, y_test)

    from safetensors.torch import save

    blob = save({k: v.contiguous() for k, v in net.state_dict().items()})
    weights = path.with_name("classifier.safetensors")
    meta = {
        "dataset": ds.name, "config": net.config, "sha256": hashlib.sha256(blob).hexdigest(),
        "test_accuracy": acc, "recipe": str(path.name), "recipe_version": raw.get("version", 1),
        "recipe_hash": hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:12],
        "seed": seed, "train": asdict(cfg), "train_time_s": train_time, "versions": versions(),
        "hardware": hardware(torch.device("cpu")),
    }
    atomic_write_bytes(weights, blob)
    atomic_write_json(path.with_name("classifier.json"), meta)
    return {**meta, "weights": str(weights)}
