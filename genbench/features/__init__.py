"""Feature extractors for image metrics, registered both here and in torch-fidelity's registry.

An extractor maps images in [0,1], shape (N, C, H, W), to 'features' (for FID, KID,
precision/recall, density/coverage) and 'logits' (for the Inception Score). The offline default
for each image dataset is a small classifier trained on it by the project's own recipe
(baselines/<dataset>/classifier.toml), whose weights are committed with their SHA-256.
Inception-v3 is used wherever its weights exist on disk.
"""

from __future__ import annotations

import inspect
import weakref

import torch

from genbench.paths import baselines_dir
from genbench.registry import Registry

EXTRACTORS: Registry = Registry("feature extractor")
BATCH = 512  # images per forward pass, unless a caller asks for another (--batch-size): speed and memory only


class Extractor:
    """A loaded extractor: a torch-fidelity FeatureExtractorBase plus what genbench needs to know."""

    def __init__(self, name: str, module, weights_sha256: str):
        self.name, self.module, self.weights_sha256 = name, module.eval(), weights_sha256

    @property
    def key(self) -> str:
        """Names the extractor and its exact weights, for cache keys."""
        return f"{self.name}-{self.weights_sha256[:12]}"

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int | None = None) -> dict[str, torch.Tensor]:
        """Features of `images` in batches of `batch_size` (default BATCH): each image's features are its
        own, so the batch size changes speed and memory, not the numbers (beyond float rounding)."""
        feats: dict[str, list[torch.Tensor]] = {}
        for batch in images.split(batch_size or BATCH):
            out = self.module.convert_features_tuple_to_dict(self.module(batch))
            for k, v in out.items():
                feats.setdefault(k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in feats.items()}


_loaded: dict[tuple, Extractor] = {}
_memo: dict[tuple[str, int], tuple[weakref.ref, dict]] = {}


def load_extractor(name: str, **options) -> Extractor:
    """Load (once per process) the extractor called `name`, given the options its loader takes
    (`inception_weights`, `baselines`: the folder whose <dataset>/classifier.* weights a domain
    extractor loads); the others are ignored, so a caller can pass all it knows."""
    loader = EXTRACTORS.get(name)
    accepted = inspect.signature(loader).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    if "baselines" in accepted:  # resolved now: the default depends on $GENBENCH_BASELINES and the cwd
        kwargs["baselines"] = baselines_dir(kwargs.get("baselines")).resolve()
    key = (name, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
    if key not in _loaded:
        # A network's default init draws from torch's global stream: loading once per process must
        # not shift the draws of the run that happens to load first (its model's init would differ).
        with torch.random.fork_rng(devices=[]):
            _loaded[key] = loader(**kwargs)
    return _loaded[key]


def features_of(images: torch.Tensor, extractor: Extractor, batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """Features of `images`, computed once per tensor and extractor: several metrics share them
    (`batch_size`, images per forward pass, does not change them, so it is no part of the key)."""
    key = (extractor.key, id(images))
    hit = _memo.get(key)
    if hit is not None and hit[0]() is images:
        return hit[1]
    feats = extractor(images, batch_size)
    _memo[key] = (weakref.ref(images), feats)
    for k in [k for k, (ref, _) in _memo.items() if ref() is None]:
        del _memo[k]
    return feats


from genbench.features import classifier, inception  # noqa: E402,F401
