"""Checkpoints: tensors in safetensors, everything else in a JSON file beside it.

Nothing is ever unpickled, so a checkpoint from a stranger cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path

from genbench import seeds
from genbench.errors import GenbenchError
from genbench.io import atomic_write_bytes, atomic_write_json
from genbench.models import build_model


FORMAT = "genbench-checkpoint/1"


def config_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def save_checkpoint(model, path: str | Path, extra: dict) -> Path:
    from safetensors.torch import save

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_json(config_path(path), {**model.config(), **extra, "format": FORMAT})
    atomic_write_bytes(path, save(tensors))
    return path


def check_config(config) -> None:
    """What a checkpoint's JSON must say before anything is built from it: the format genbench
    writes, and seeds that torch can take (the scoring seed decides what a re-score draws)."""
    if not isinstance(config, dict):
        raise GenbenchError(f"it holds a JSON {type(config).__name__}, not an object")
    if config.get("format") != FORMAT:
        raise GenbenchError(f"'format' is {config.get('format')!r}, not {FORMAT!r}: not a genbench checkpoint "
                            "(or one of a newer genbench)")
    for key in ("seed", "scoring_seed"):
        if key in config:
            seeds.check(config[key], repr(key))


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """(model, config) from a safetensors checkpoint and its JSON config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GenbenchError(f"checkpoint {path} does not exist")
    cfg_file = config_path(path)
    if not cfg_file.is_file():
        raise GenbenchError(f"checkpoint {path} has no config {cfg_file.name} beside it")
    try:
        config = json.loads(cfg_file.read_text())
        check_config(config)
        model = build_model(config["model"], tuple(config["data_shape"]), config.get("hparams", {}))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RecursionError) as e:
        raise GenbenchError(f"checkpoint config {cfg_file} is malformed ({type(e).__name__}: {e})") from None
    except GenbenchError as e:
        raise GenbenchError(f"checkpoint config {cfg_file}: {e}") from None
    try:
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as e:
        raise GenbenchError(f"{path} is not a safetensors file ({e})") from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise GenbenchError(f"checkpoint {path} does not fit model {config['model']!r}: {first[-1].strip() if first else e}") from None
    try:
        model.check_state()
    except ValueError as e:
        raise GenbenchError(f"checkpoint {path} holds invalid {config['model']!r} parameters: {e}") from None
    model.to(device)
    model.eval()
    return model, config
