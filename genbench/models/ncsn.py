"""Noise Conditional Score Networks (Song & Ermon, "Generative Modeling by Estimating Gradients of
the Data Distribution", NeurIPS 2019): denoising score matching over a ladder of noise levels,
sampled by annealed Langevin dynamics.

Noise levels sigma_1 > ... > sigma_L, geometric from `sigma_begin` to `sigma_end` (L = `noise_levels`).
Training (eq. 5-6, lambda(sigma) = sigma^2, one level per example drawn uniformly):
    i ~ U{1..L}, eps ~ N(0, I), x~ = x + sigma_i eps,   l = 1/2 || sigma_i s_theta(x~, sigma_i) + eps ||^2
    (the denoising score matching target: grad log q(x~ | x) = -(x~ - x) / sigma^2 = -eps / sigma).
Sampling, Algorithm 1 (annealed Langevin dynamics), from x_0 ~ U(data range):
    for i = 1..L:  alpha_i = step_lr * sigma_i^2 / sigma_L^2
        for t = 1..T (`steps_each`):  x <- x + alpha_i / 2 s_theta(x, sigma_i) + sqrt(alpha_i) z
    and, with `denoise`, one last step x <- x + sigma_L^2 s_theta(x, sigma_L) (Tweedie's formula, the
    final denoising of Song & Ermon 2020 and Jolicoeur-Martineau et al. 2021), which removes the
    sigma_L noise Algorithm 1 leaves in its samples.
s_theta(x, sigma_i) = f_theta(x, i) / sigma_i: the network is conditioned on the level's index (an
embedding, as the paper's conditional normalisation is) and predicts sigma s, which is -eps at the
optimum and so of unit scale at every level; this is NCSNv2's parameterisation (Song & Ermon 2020,
technique 3), taken because an unscaled output would have to span 1/sigma_1 .. 1/sigma_L.
Images live in [0, 1] as in the paper; their chain starts from U[0, 1] and the samples are clamped to
[0, 1] at the end, as the paper's code (ermongroup/ncsn, anneal_runner.py) clamps the images it keeps.
"""

from __future__ import annotations

import math

import torch

from genbench.models import register_model
from genbench.models.nets import mlp, timestep_embedding
from genbench.models.neural import NeuralModel
from genbench.models.unet_ddpm import unet_for
from genbench.registry import Count, Fraction, Natural, Positive


class NCSN(NeuralModel):
    """The ladder, the loss and Algorithm 1 for any score network: a subclass writes
    `f_theta(x, i)` (sigma_i times the score) on data-shaped x and level indices i."""

    family = "diffusion"  # the brief's one family: diffusion / denoising score matching
    has_log_prob = False

    def __init__(self, data_shape, sigma_begin: float, sigma_end: float, noise_levels: int, steps_each: int,
                 step_lr: float, denoise: bool, images: bool, **hparams):
        super().__init__(data_shape, sigma_begin=sigma_begin, sigma_end=sigma_end, noise_levels=noise_levels,
                         steps_each=steps_each, step_lr=step_lr, denoise=denoise, **hparams)
        if not sigma_end < sigma_begin:
            raise ValueError(f"sigma_end must be below sigma_begin={sigma_begin}, got {sigma_end}")
        if noise_levels < 2:
            raise ValueError(f"noise_levels must be at least 2 (a ladder from sigma_begin to sigma_end), got {noise_levels}")
        self.images, self.steps_each, self.step_lr, self.denoise = images, steps_each, step_lr, denoise
        sigmas = torch.exp(torch.linspace(math.log(sigma_begin), math.log(sigma_end), noise_levels))
        self.register_buffer("sigmas", sigmas)

    def f_theta(self, x: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """s_theta(x, sigma_i)."""
        return self.f_theta(x, i) / self.sigmas[i].reshape(-1, *[1] * (x.ndim - 1))

    def loss(self, batch, generator):
        i = torch.randint(0, len(self.sigmas), (len(batch),), generator=generator, device=batch.device)
        sigma = self.sigmas[i].reshape(-1, *[1] * (batch.ndim - 1))
        eps = torch.randn(batch.shape, generator=generator, device=batch.device)
        return 0.5 * (self.f_theta(batch + sigma * eps, i) + eps).pow(2).flatten(1).sum(1).mean()

    def initial(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """x_0 of the chain: uniform on [0, 1] for images (the paper's), and for points on the box
        sigma_1 wide around the origin, the scale the first level sees."""
        u = torch.rand(n, *self.data_shape, generator=generator, device=self.sigmas.device)
        return u if self.images else (2 * u - 1) * self.sigmas[0]

    @torch.no_grad()
    def sample(self, n, generator):
        x = self.initial(n, generator)
        for i, sigma in enumerate(self.sigmas):
            alpha = self.step_lr * (sigma / self.sigmas[-1]) ** 2
            level = torch.full((n,), i, device=x.device, dtype=torch.long)
            for _ in range(self.steps_each):
                z = torch.randn(x.shape, generator=generator, device=x.device)
                x = x + alpha / 2 * self.score(x, level) + alpha.sqrt() * z
        if self.denoise:
            last = torch.full((n,), len(self.sigmas) - 1, device=x.device, dtype=torch.long)
            x = x + self.sigmas[-1] ** 2 * self.score(x, last)
        return x.clamp(0, 1) if self.images else x


@register_model("ncsn")
class MLPNCSN(NCSN):
    """f_theta an MLP on the flattened x and a sinusoidal embedding of the level index."""

    def __init__(self, data_shape, sigma_begin: Positive = 1.0, sigma_end: Positive = 0.01, noise_levels: Count = 10,
                 steps_each: Count = 100, step_lr: Positive = 2e-5, denoise: bool = False,
                 hidden: Count = 256, layers: Count = 3, level_dim: Count = 64, images: bool = False):
        if level_dim % 2:
            raise ValueError(f"level_dim {level_dim} must be even (sines and cosines)")
        super().__init__(data_shape, sigma_begin, sigma_end, noise_levels, steps_each, step_lr, denoise, images,
                         hidden=hidden, layers=layers, level_dim=level_dim)
        self.hparams["images"] = images  # taken from the dataset, kept so that a checkpoint rebuilds the same model
        self.level_dim = level_dim
        self.net = mlp(self.dim + level_dim, hidden, self.dim, layers)

    def f_theta(self, x, i):
        h = torch.cat([x.reshape(len(x), -1), timestep_embedding(i, self.level_dim)], dim=1)
        return self.net(h).reshape(x.shape)


@register_model("unet-ncsn")
class UNetNCSN(NCSN):
    """f_theta genbench's DDPM U-Net, its time embedding given the level index."""

    def __init__(self, data_shape, sigma_begin: Positive = 1.0, sigma_end: Positive = 0.01, noise_levels: Count = 10,
                 steps_each: Count = 100, step_lr: Positive = 2e-5, denoise: bool = False,
                 channels: Count = 32, scales: Natural = 2, blocks: Count = 1, dropout: Fraction = 0.0):
        super().__init__(data_shape, sigma_begin, sigma_end, noise_levels, steps_each, step_lr, denoise, True,
                         channels=channels, scales=scales, blocks=blocks, dropout=dropout)
        self.net = unet_for(self.data_shape, channels, scales, blocks, dropout)

    def f_theta(self, x, i):
        return self.net(x, i)
