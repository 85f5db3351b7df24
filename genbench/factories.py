"""Your own model, scored like a samples file: `genbench score --factory pkg.module:build`.

`build(**factory_kwargs)` returns one of these (torch-fidelity's generative-model wrapper is
the anchor for the convention):

  - an object with `sample(n, generator) -> tensor` (genbench's own model protocol), e.g. an nn.Module;
  - a `torch_fidelity.GenerativeModelBase`, e.g. `GenerativeModelModuleWrapper(module, z_size,
    z_type, num_classes)`: noise (and class labels) are drawn as torch-fidelity draws them, batch by
    batch from `numpy.random.RandomState(--scoring-seed)`, and the module maps them to images;
    torch-fidelity's own default seed is rng_seed 2020 and genbench's scoring seed defaults to 0,
    so `--scoring-seed 2020` draws the very noise torch-fidelity draws by default;
  - a callable `(n, generator) -> tensor`.

An nn.Module is moved to the scoring device and put in eval mode; `generator` is a
`torch.Generator` on that device seeded with `--scoring-seed` (default 0). Samples are drawn in
batches of BATCH (torch-fidelity's default batch size, genbench.drawing) without gradients, then pass the very
checks a samples file passes (shape, dtype, range, NaN), so a broken model is refused as bad input
instead of being scored. `--save-samples FILE.npy` keeps them as scored.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from genbench.data import Dataset, check_samples
from genbench.drawing import FACTORY_BATCH
from genbench.errors import GenbenchError
from genbench.registry import unknown_name_message

BATCH = FACTORY_BATCH


def _why(e: BaseException) -> str:
    """An exception of the user's code as one line: type, message and where it was raised."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return " ".join(f"{type(e).__name__}: {e}{where}".split())


@contextlib.contextmanager
def user_code(failed: str):
    """Run a piece of the user's code. What it raises becomes one line, `failed (why)`; so do sys.exit
    and KeyboardInterrupt from inside it, which would otherwise end genbench with no scores and exit 0
    (a CI step that passes)."""
    try:
        yield
    except GenbenchError:
        raise
    except SystemExit as e:
        raise GenbenchError(f"{failed} ({_why(e)}: a factory must return or raise, not exit)") from None
    except (Exception, KeyboardInterrupt) as e:
        raise GenbenchError(f"{failed} ({_why(e)})") from None


def describe(factory: str | Callable) -> str:
    """How messages and the JSON record name the factory."""
    if isinstance(factory, str):
        return factory
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', type(factory).__name__)}"


def import_factory(spec: str) -> Callable:
    """The object at 'pkg.module:build' (the attribute may be dotted: 'pkg.mod:Class.build')."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise GenbenchError(f"--factory {spec!r} must be pkg.module:build (a module you can import, a colon, "
                            "and the function in it that builds your model)")
    if os.getcwd() not in sys.path and "" not in sys.path:  # as `python -m genbench` would: a module beside you
        sys.path.append(os.getcwd())
    with user_code(f"--factory {spec}: cannot import {module_name!r}"):
        obj = importlib.import_module(module_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))]
            raise GenbenchError(f"--factory {spec}: " + unknown_name_message("function", part, names))
        obj = getattr(obj, part)
    if not callable(obj):
        raise GenbenchError(f"--factory {spec} is a {type(obj).__name__}, not a function that builds a model")
    return obj


def parse_kwargs(kwargs: str | dict | None) -> dict:
    """--factory-kwargs: a JSON object (CLI) or a dict (Python)."""
    if kwargs is None:
        return {}
    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except (json.JSONDecodeError, RecursionError) as e:
            raise GenbenchError(f"--factory-kwargs is not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(kwargs, dict):
        raise GenbenchError("--factory-kwargs must be a JSON object of keyword arguments, e.g. '{\"width\": 64}'")
    return kwargs


def _is_fidelity_model(obj) -> bool:
    from torch_fidelity import GenerativeModelBase

    return isinstance(obj, GenerativeModelBase)


def sampler(obj, name: str, device: torch.device, seed: int) -> Callable[[int], object]:
    """`draw(k)` for what the factory returned, following the conventions in the module docstring."""
    if isinstance(obj, torch.nn.Module):
        obj.to(device).eval()
    if callable(getattr(obj, "sample", None)):
        g = torch.Generator(device=device).manual_seed(seed)
        return lambda k: obj.sample(k, g)
    if _is_fidelity_model(obj):
        from torch_fidelity.registry import NOISE_SOURCE_REGISTRY

        if obj.z_type not in NOISE_SOURCE_REGISTRY:
            raise GenbenchError(unknown_name_message("torch-fidelity z_type", obj.z_type, list(NOISE_SOURCE_REGISTRY)))
        rng = np.random.RandomState(seed)

        def draw(k: int):
            args = [NOISE_SOURCE_REGISTRY[obj.z_type](rng, (k, obj.z_size)).to(device)]
            if obj.num_classes > 0:
                args.append(torch.from_numpy(rng.randint(0, obj.num_classes, size=(k,), dtype=np.int64)).to(device))
            return obj(*args)

        return draw
    if isinstance(obj, torch.nn.Module):
        raise GenbenchError(f"--factory {name} returned an nn.Module ({type(obj).__name__}) without a "
                            "sample(n, generator) method: add one, or return torch_fidelity."
                            "GenerativeModelModuleWrapper(module, z_size, z_type, num_classes)")
    if callable(obj):
        g = torch.Generator(device=device).manual_seed(seed)
        return lambda k: obj(k, g)
    raise GenbenchError(f"--factory {name} returned a {type(obj).__name__}; expected an object with "
                        "sample(n, generator), a torch_fidelity GenerativeModelBase, or a callable (n, generator)")


@torch.no_grad()
def draw(sample: Callable[[int], object], n: int, name: str, progress: bool = True) -> torch.Tensor:
    """n samples in batches of BATCH, each checked to be a tensor of k rows of one shape, on the CPU."""
    chunks: list[torch.Tensor] = []
    with tqdm(total=n, desc="sampling", unit="sample", disable=not progress or None, leave=False) as bar:
        while (done := sum(len(c) for c in chunks)) < n:
            k = min(BATCH, n - done)
            with user_code(f"--factory {name} failed drawing {k} samples"):
                x = sample(k)
            if isinstance(x, np.ndarray):
                if x.dtype.kind not in "fiub":  # torch takes numbers only (an object array: TypeError)
                    raise GenbenchError(f"--factory {name} returned a numpy array of dtype {x.dtype}; expected numbers")
                x = torch.from_numpy(x)
            if not isinstance(x, torch.Tensor):
                raise GenbenchError(f"--factory {name} returned a {type(x).__name__}; expected a tensor of samples")
            if x.ndim == 0 or len(x) != k:
                raise GenbenchError(f"--factory {name} returned {tuple(x.shape)} when asked for {k} samples "
                                    f"(expected {k} rows)")
            if chunks and x.shape[1:] != chunks[0].shape[1:]:
                raise GenbenchError(f"--factory {name} returned samples of shape {tuple(x.shape[1:])} after "
                                    f"{tuple(chunks[0].shape[1:])}")
            if x.is_floating_point() and x.dtype != torch.float64:
                x = x.float()  # bf16/fp16 outputs have no numpy dtype
            chunks.append(x.detach().cpu())
            bar.update(k)
    return torch.cat(chunks)


def factory_samples(factory: str | Callable, kwargs: str | dict | None, dataset: Dataset, n: int,
                      device: torch.device, seed: int, progress: bool = True) -> torch.Tensor:
    """n samples from the user's model, checked against `dataset` exactly as a samples file is."""
    name = describe(factory)
    kwargs = parse_kwargs(kwargs)
    build = import_factory(factory) if isinstance(factory, str) else factory
    with user_code(f"--factory {name}: the factory failed"):  # e.g. a keyword it does not take
        obj = build(**kwargs)
    with user_code(f"--factory {name}: preparing what it returned failed"):  # .to(device), .eval(): its code
        sample = sampler(obj, name, device, seed)
    x = draw(sample, n, name, progress)
    return check_samples(x, dataset, what=f"samples from --factory {name}")
