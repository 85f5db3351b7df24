"""Convolutional VAE (Kingma & Welling, 2014): the Gaussian VAE of genbench.models.vae with conv nets.

    encoder: x -> [conv 3x3 stride 2 -> SiLU] x scales -> linear -> SiLU -> linear -> (mu, log sigma^2)
    decoder: z -> linear -> SiLU -> linear -> [transposed conv 3x3 stride 2] x scales (SiLU between) -> mean of x
    ELBO(x) = E_q[log N(x; g(z), diag exp(2 log_s))] - KL(q(z|x) || N(0, I)),  log_s one per pixel

`log_prob` is the same importance-weighted bound (Burda et al., 2016, k = 100) as the MLP VAE's:
the objective and the bound are shared code (GaussianVAE), only the nets differ.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import register_model
from genbench.models.vae import GaussianVAE
from genbench.registry import Count


def halvings(size: int, scales: int) -> list[int]:
    """Spatial sizes after each stride-2, padding-1, 3x3 conv: ceil(s / 2) (28, 14, 7, 4)."""
    sizes = [size]
    for _ in range(scales):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class Decoder(nn.Module):
    """The encoder's mirror: a linear map to the lowest resolution, then each level's stride-2 conv
    undone by a stride-2 transposed conv, the last one to the image's channels."""

    def __init__(self, latent: int, hidden: int, widths: list[int], sizes: list[tuple[int, int]], out_channels: int):
        super().__init__()
        self.sizes, self.c0 = sizes, widths[-1]
        self.fc = nn.Sequential(nn.Linear(latent, hidden), nn.SiLU(), nn.Linear(hidden, widths[-1] * math.prod(sizes[-1])))
        c_out = widths[-2::-1] + [out_channels]
        self.convs = nn.ModuleList(nn.ConvTranspose2d(a, b, 3, stride=2, padding=1)
                                   for a, b in zip(widths[::-1], c_out, strict=True))

    def forward(self, z):
        h = F.silu(self.fc(z)).reshape(len(z), self.c0, *self.sizes[-1])
        for i, (conv, size) in enumerate(zip(self.convs, self.sizes[-2::-1], strict=True)):
            h = conv(h, output_size=size)  # the encoder's size at this level (4 -> 7 or 8: ambiguous)
            h = F.silu(h) if i < len(self.convs) - 1 else h
        return h


@register_model("conv-vae")
class ConvVAE(GaussianVAE):
    def __init__(self, data_shape, latent: Count = 16, channels: Count = 32, scales: Count = 2, hidden: Count = 256):
        super().__init__(data_shape, latent=latent, channels=channels, scales=scales, hidden=hidden)
        if len(self.data_shape) != 3:
            raise ValueError(f"needs images (C, H, W), got data of shape {self.data_shape}")
        self.latent = latent
        c, height, width = self.data_shape
        widths = [channels * 2 ** i for i in range(scales)]
        sizes = list(zip(halvings(height, scales), halvings(width, scales), strict=True))
        convs: list[nn.Module] = []
        for a, b in zip([c] + widths[:-1], widths, strict=True):
            convs += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*convs, nn.Flatten(), nn.Linear(widths[-1] * math.prod(sizes[-1]), hidden), nn.SiLU(),
                                     nn.Linear(hidden, 2 * latent))
        self.decoder = Decoder(latent, hidden, widths, sizes, c)
        self.log_s = nn.Parameter(torch.full(self.data_shape, math.log(0.1)))  # decoder noise scale per pixel

    def shape(self, x):
        return x.reshape(len(x), *self.data_shape)
