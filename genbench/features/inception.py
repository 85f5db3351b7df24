"""Inception-v3 (torch-fidelity's `inception-v3-compat`), its weights fetched once and verified.

torch-fidelity unpickles that file (torch.load with weights_only=False), so it comes only through
the one checksum-verified fetch path (genbench.data.fetch): a file given or found locally, or a
download, is checked against the published SHA-256 before torch-fidelity ever opens it. Offline,
without the file, the error names it, where to put it, and the domain extractor to use instead.
`genbench fetch inception` downloads it ahead, on an online machine, for an air-gapped one.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genbench.data.fetch import Resource, fetch
from genbench.features import EXTRACTORS, Extractor

NAME = "inception-v3-compat"
FILE = "weights-inception-2015-12-05-6726825d.pth"
SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FILE


def weights_resource() -> Resource:
    """Built per call: torch's hub folder follows $TORCH_HOME, which may change at run time."""
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    return Resource(name=FILE, sha256=SHA256, urls=(URL,), search=(str(hub),), subdir="inception",
                    hint=f"put it in {hub}, or pass --inception-weights PATH (or set GENBENCH_INCEPTION_WEIGHTS); "
                         "offline, use the dataset's domain extractor instead (e.g. --extractor digits-cnn)")


def find_weights(path: str | None = None) -> Path:
    """The verified weights file: `path`, $GENBENCH_INCEPTION_WEIGHTS, the local folders, or a download."""
    return fetch(weights_resource(), path or os.environ.get("GENBENCH_INCEPTION_WEIGHTS") or None)


class _ToInceptionInput(torch.nn.Module):
    """[0,1] images with 1 or 3 channels -> the uint8 RGB that inception-v3-compat expects."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.features_list = module.features_list

    def convert_features_tuple_to_dict(self, features):
        out = self.module.convert_features_tuple_to_dict(features)
        return {"features": out["2048"], "logits": out["logits_unbiased"]}

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.module((x.clamp(0, 1) * 255).round().to(torch.uint8))


@EXTRACTORS.register(NAME)
def inception(inception_weights: str | None = None) -> Extractor:
    """torch-fidelity's Inception-v3 (standard FID/IS); its weights fetched once, SHA-256 checked."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = find_weights(inception_weights)
    module = FeatureExtractorInceptionV3(NAME, ["2048", "logits_unbiased"],
                                         feature_extractor_weights_path=str(path))
    return Extractor(NAME, _ToInceptionInput(module), SHA256)
