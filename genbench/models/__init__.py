"""Generative models: one registry, one protocol.

Every family (mixture, autoregressive, VAE, GAN, flow, diffusion) is a `GenerativeModel`: the
trainer calls `initialize` once and `train_step` repeatedly, the scorer calls `sample` and, where
the family has one, `log_prob`. Nothing outside a model's own file knows which family it is.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import ClassVar

import torch
from torch import nn

from genbench.errors import GenbenchError
from genbench.registry import Registry, check_params

MODELS: Registry = Registry("model")


class GenerativeModel(nn.Module):
    name: ClassVar[str] = "?"  # set by `register_model`
    family: ClassVar[str] = "?"
    has_log_prob: ClassVar[bool] = False
    log_prob_is_bound: ClassVar[bool] = False  # log_prob is a lower bound (VAE: IWAE), not exact

    def __init__(self, data_shape: tuple[int, ...], **hparams):
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.dim = math.prod(self.data_shape)
        self.hparams = hparams

    def initialize(self, data: torch.Tensor, generator: torch.Generator) -> None:
        """Data-dependent set-up before the first step (e.g. k-means++ centres). Default: none."""

    def training_rows(self, data: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The rows the trainer draws its batches from, after `initialize` (drawn only from `generator`,
        so a resumed run rebuilds the same ones). Default: the training data itself."""
        return data

    def configure_training(self, cfg) -> None:
        """Set up optimizers etc. from the recipe's [train] table (a TrainConfig). Default: none."""

    def optimizers(self) -> list:
        """Optimizers whose state a resumed run must restore (none for EM)."""
        return []

    def schedulers(self) -> list:
        return []

    def train_step(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        """One update on `batch` (already in model space); returns scalars to log, 'loss' first."""
        raise NotImplementedError

    def seed_batching(self) -> str | None:
        """None when this model can train seed-batched (genbench.seed_batch), else why not. A model that
        can gives its step in functional form: `step_noise` draws what `train_step` draws from the
        generator, in its order; `step_objective(batch, noise)` returns (objective, stats), the
        objective's gradient being every player's gradient at the current weights, drawing nothing."""
        return f"model {self.name!r} gives no functional training step (step_noise, step_objective)"

    def step_noise(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def step_objective(self, batch: torch.Tensor, noise: dict[str, torch.Tensor]):
        raise NotImplementedError

    @property
    def converged(self) -> bool:
        """True when further steps would not change the model (lets EM stop early)."""
        return False

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n samples of shape (n, *data_shape), in model space, drawn only from `generator`. A family
        may take keyword options that change one draw and never the model (text: `temperature`)."""
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density (nats) of each row of x, in model space."""
        raise GenbenchError(f"model {self.name!r} ({self.family}) has no exact log-likelihood")

    def check_state(self) -> None:
        """Raise ValueError(why) when loaded parameters are well-shaped but invalid (a covariance that
        is not positive definite), so a checkpoint is refused on load, not deep inside scoring. Default:
        any values are valid."""

    def config(self) -> dict:
        return {"model": self.name, "data_shape": list(self.data_shape), "hparams": dict(self.hparams)}


def register_model(name: str):
    def decorator(cls):
        cls.name = name
        return MODELS.register(name)(cls)

    return decorator


# Hyper-parameters a model takes from the dataset, not the recipe: a text model's vocabulary, the
# grey levels of a model of discrete images, whether the data are images (in [0, 1]).
FROM_DATASET = ("vocab", "levels", "images")


def takes_from_dataset(name: str) -> list[str]:
    return [p for p in FROM_DATASET if p in inspect.signature(MODELS.get(name).__init__).parameters]


def build_model(name: str, data_shape: tuple[int, ...], hparams: dict | None = None,
                vocab: list[str] | None = None, levels: int | None = None, images: bool | None = None) -> GenerativeModel:
    """A model from its hyper-parameters; a text model also gets the dataset's `vocab`, a model of
    discrete images its `levels`, a model that can take points or images whether they are `images`."""
    cls = MODELS.get(name)
    if not data_shape or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in data_shape):
        raise GenbenchError(f"model {name!r}: data_shape must be positive integers, got {list(data_shape)}")
    hparams = dict(hparams or {})
    takes = takes_from_dataset(name)
    if vocab is not None and "vocab" in takes:
        hparams["vocab"] = list(vocab)
    if levels is not None and "levels" in takes:
        hparams["levels"] = levels
    if images is not None and "images" in takes:
        hparams["images"] = images
    check_params(f"model {name!r}", cls.__init__, hparams, skip=("self", "data_shape"))
    try:
        return cls(tuple(data_shape), **hparams)
    except ValueError as e:  # hyper-parameters that are valid one by one but not together
        raise GenbenchError(f"model {name!r}: {e}") from e
    except (MemoryError, RuntimeError) as e:  # e.g. components = 10**11: its parameters alone exceed memory
        if not isinstance(e, MemoryError | torch.OutOfMemoryError) and "allocate" not in str(e):
            raise
        asked = re.search(r"tried to allocate \d+ bytes", str(e))
        said = asked.group(0) if asked else " ".join(str(e).split()[:12]) or type(e).__name__
        raise GenbenchError(f"model {name!r} with {hparams} does not fit in memory ({said})") from None


def build_for(name: str, dataset, hparams: dict | None = None) -> GenerativeModel:
    """A model of `dataset` (a genbench.data.Dataset): what the model takes from the data filled in."""
    return build_model(name, dataset.shape, hparams, vocab=dataset.vocab, levels=dataset.levels,
                       images=dataset.kind == "image")


from genbench.models import (  # noqa: E402,F401
    conv_vae,
    dcgan,
    ddpm,
    flow,
    gan,
    glow,
    gmm,
    lstm,
    made,
    ncsn,
    ngram,
    pixelcnn,
    transformer,
    unet_ddpm,
    vae,
    veegan,
)
