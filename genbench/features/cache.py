"""Reference features cached on disk, keyed by dataset, split, the dataset's parameters, the
extractor and its weights' hash, so scoring a checkpoint never recomputes them. Stored as
safetensors (never unpickled); written atomically."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench.data import Dataset
from genbench.features import Extractor
from genbench.io import atomic_write_bytes
from genbench.paths import cache_dir


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


STATS = CacheStats()


def cache_path(dataset: Dataset, split: str, extractor: Extractor) -> Path:
    params = hashlib.sha256(json.dumps(dataset.params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return cache_dir() / "features" / f"{dataset.name}-{split}-{params}-{extractor.key}.safetensors"


def reference_features(dataset: Dataset, extractor: Extractor, split: str = "train",
                       verbose: bool = False) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load, save

    path = cache_path(dataset, split, extractor)
    if path.is_file():
        try:
            feats = load(path.read_bytes())
            STATS.hits += 1
            return feats
        except (SafetensorError, OSError):
            pass  # a damaged cache entry is recomputed, not trusted
    STATS.misses += 1
    if verbose:
        print(f"computing {extractor.name} features of {dataset.name}/{split} (cached at {path})", file=sys.stderr)
    feats = extractor(dataset.reference(split))
    atomic_write_bytes(path, save({k: v.contiguous() for k, v in feats.items()}))
    return feats
