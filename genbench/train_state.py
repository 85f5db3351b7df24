"""Resumable training state: model, optimizers, schedulers, EMA, RNG and step, saved as
safetensors (tensors) + JSON (everything else), never pickled, written atomically.

Nested state dicts are flattened: every tensor goes into the safetensors file under a path-like
key and the JSON keeps the structure, with dict keys stored with their types (optimizer state is
keyed by int), so `load` gives back exactly what `save` was given.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genbench.io import atomic_write_bytes, atomic_write_json

STATE = "train_state"


def flatten(obj, tensors: dict, path: str):
    if torch.is_tensor(obj):
        tensors[path] = obj.detach().cpu().contiguous()
        return {"tensor": path}
    if isinstance(obj, dict):
        return {"dict": [[k, type(k).__name__, flatten(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return {"list": [flatten(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)], "tuple": isinstance(obj, tuple)}
    return {"value": obj}


def unflatten(node, tensors: dict):
    if "tensor" in node:
        return tensors[node["tensor"]]
    if "dict" in node:
        cast = {"int": int, "str": str, "float": float}
        return {cast.get(t, str)(k): unflatten(v, tensors) for k, t, v in node["dict"]}
    if "list" in node:
        items = [unflatten(v, tensors) for v in node["list"]]
        return tuple(items) if node["tuple"] else items
    return node["value"]


def save(folder: Path, step: int, parts: dict, key: str = "") -> None:
    from safetensors.torch import save as save_tensors

    tensors: dict[str, torch.Tensor] = {}
    structure = flatten(parts, tensors, "s")
    atomic_write_bytes(folder / f"{STATE}.safetensors", save_tensors(tensors))
    atomic_write_json(folder / f"{STATE}.json", {"step": step, "key": key, "structure": structure})  # last: complete


def load(folder: Path, key: str = "") -> tuple[int, dict] | None:
    """The saved (step, parts), or None when there is none or it belongs to another recipe (`key`)."""
    from safetensors.torch import load as load_tensors

    meta_path = folder / f"{STATE}.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("key") != key:
        return None
    tensors = load_tensors((folder / f"{STATE}.safetensors").read_bytes())
    return meta["step"], unflatten(meta["structure"], tensors)


def clear(folder: Path) -> None:
    for suffix in (".json", ".safetensors"):
        (folder / f"{STATE}{suffix}").unlink(missing_ok=True)
