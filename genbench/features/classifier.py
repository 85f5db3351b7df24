"""Domain-classifier feature extractors (the offline default), in torch-fidelity's registry too.

`digits-cnn` and `fashion-cnn` load the committed weights baselines/<dataset>/classifier.safetensors
(in the run's baselines folder: `--baselines DIR` reaches them too) after checking them against the
SHA-256 recorded beside them. `digits-cnn-stacked` applies
`digits-cnn` to each channel of a stacked-digits image: features are concatenated, and the 1000
logits are log p(d1) + log p(d2) + log p(d3), so its classes are exactly the 1000 modes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch_fidelity import register_feature_extractor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from genbench.data.fetch import sha256_of
from genbench.errors import GenbenchError
from genbench.features import EXTRACTORS, Extractor
from genbench.features.cnn import DomainCNN
from genbench.paths import baselines_dir

DOMAIN = {"digits-cnn": "digits", "fashion-cnn": "fashion-mnist"}


def weights_paths(dataset: str, baselines: str | os.PathLike | None = None) -> tuple[Path, Path]:
    folder = baselines_dir(baselines) / dataset
    return folder / "classifier.safetensors", folder / "classifier.json"


def load_domain_cnn(dataset: str, baselines: str | os.PathLike | None = None) -> tuple[DomainCNN, dict]:
    from safetensors.torch import load

    weights, meta_path = weights_paths(dataset, baselines)
    if not weights.is_file() or not meta_path.is_file():
        raise GenbenchError(f"no classifier weights for {dataset!r} at {weights}: train them with "
                            f"`genbench train-extractor {dataset}` (recipe {weights.with_suffix('.toml')})")
    meta = json.loads(meta_path.read_text())
    digest = sha256_of(weights)
    if digest != meta.get("sha256"):
        raise GenbenchError(f"{weights} has SHA-256 {digest[:16]}…, but {meta_path.name} records "
                            f"{str(meta.get('sha256'))[:16]}…: the weights were changed; retrain or restore them")
    net = DomainCNN(**meta["config"])
    net.load_state_dict(load(weights.read_bytes()))
    return net.eval(), meta


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity extractor over a DomainCNN; input float images in [0,1], (N, C, H, W)."""

    dataset = ""

    def __init__(self, name, features_list, baselines: str | os.PathLike | None = None, **kwargs):
        super().__init__(name, features_list)
        self.net, self.meta = load_domain_cnn(self.dataset, baselines)

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 8, 8)

    def raw(self, x):
        return self.net.features_and_logits(x.float())

    def forward(self, x):
        f, logits = self.raw(x)
        out = {"features": f, "logits": logits}
        return tuple(out[name] for name in self.features_list)


class StackedDigitsFeatureExtractor(DomainFeatureExtractor):
    dataset = "digits"

    def raw(self, x):
        per_channel = [self.net.features_and_logits(x[:, c:c + 1].float()) for c in range(3)]
        f = torch.cat([p[0] for p in per_channel], dim=1)
        a, b, c = (p[1].log_softmax(1) for p in per_channel)
        logits = (a[:, :, None, None] + b[:, None, :, None] + c[:, None, None, :]).flatten(1)
        return f, logits


def _register(name: str, cls: type, dataset: str, channels: int):
    spec = type(cls.__name__ + "_" + name.replace("-", "_"), (cls,), {"dataset": dataset})
    register_feature_extractor(name, spec)

    @EXTRACTORS.register(name)
    def load(baselines: str | os.PathLike | None = None) -> Extractor:
        module = spec(name, ["features", "logits"], baselines=baselines)
        return Extractor(name, module, module.meta["sha256"])

    load.__doc__ = (f"classifier trained on {dataset} by baselines/{dataset}/classifier.toml (offline)"
                    + (", applied to each of the 3 channels: 1000 classes" if channels == 3 else ""))
    return load


_register("digits-cnn", DomainFeatureExtractor, "digits", 1)
_register("fashion-cnn", DomainFeatureExtractor, "fashion-mnist", 1)
_register("digits-cnn-stacked", StackedDigitsFeatureExtractor, "digits", 3)
