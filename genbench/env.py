"""Where a run happens: device choice, seeding, and the versions/hardware stamped on records."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import random

import numpy as np
import torch

from genbench.errors import GenbenchError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    if device not in DEVICES:
        raise GenbenchError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise GenbenchError("device 'cuda' was asked for but torch sees no GPU; use --device cpu or auto")
    return torch.device(device)


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed every global RNG and return the generator that all model randomness should draw from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


_PACKAGES = ("genbench", "torch", "torchvision", "torch-fidelity", "numpy", "sacrebleu", "scikit-learn")


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with `n` torch threads (None: leave the setting alone), then restore it."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """Bytes of memory a new allocation can get without swapping (Linux's MemAvailable), or None where
    it cannot be told: a bound to refuse a request that cannot fit before any work starts."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "MemAvailable":
                    return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name. The same seed gives different numbers on different CPUs, so records say
    which; Linux keeps it in /proc/cpuinfo ("model name"; platform.processor() is empty there)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware(device: torch.device) -> dict[str, object]:
    info: dict[str, object] = {
        "device": device.type,
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def hardware_label(hw: dict) -> str:
    if hw.get("gpu"):
        return f"{hw['gpu']}"
    machine = hw.get("machine", "?")
    cpu = hw.get("cpu") or machine
    name = cpu if cpu == machine else f"{cpu} ({machine})"
    return f"CPU {name} x{hw.get('cpu_count', '?')} ({hw.get('torch_threads', '?')} torch threads)"
