"""Inception-v3 (torch-fidelity's `inception-v3-compat`), whenever its weights are on disk.

torch-fidelity unpickles that file (torch.load with weights_only=False), so genbench first checks
its SHA-256 against the published one and refuses anything else. Offline, without the file, the
error names it, where to put it, and the domain extractor to use instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genbench.data.fetch import sha256_of
from genbench.errors import GenbenchError
from genbench.features import EXTRACTORS, Extractor

FILE = "weights-inception-2015-12-05-6726825d.pth"
SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FILE


def find_weights(path: str | None = None) -> Path:
    hub = Path(torch.hub.get_dir()) / "checkpoints" / FILE
    for candidate in (path, os.environ.get("GENBENCH_INCEPTION_WEIGHTS"), hub):
        if candidate:
            p = Path(candidate)
            if p.is_file():
                digest = sha256_of(p)
                if digest != SHA256:
                    raise GenbenchError(f"{p} has SHA-256 {digest[:16]}…, not the Inception weights' {SHA256[:16]}…; "
                                        "refusing to unpickle it")
                return p
            if candidate is path:
                raise GenbenchError(f"Inception weights {p} do not exist")
    raise GenbenchError(f"Inception weights {FILE} not found: download {URL} (SHA-256 {SHA256}) to {hub} or pass "
                        "--inception-weights PATH (or set GENBENCH_INCEPTION_WEIGHTS); offline, use the dataset's "
                        "domain extractor instead (e.g. --extractor digits-cnn)")


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


@EXTRACTORS.register("inception-v3-compat")
def inception(inception_weights: str | None = None) -> Extractor:
    """torch-fidelity's Inception-v3 (standard FID/IS); needs its weights file on disk."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = find_weights(inception_weights)
    module = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                         feature_extractor_weights_path=str(path))
    return Extractor("inception-v3-compat", _ToInceptionInput(module), SHA256)
