"""DCGAN (Radford, Metz & Chintala, ICLR 2016): the GAN of genbench.models.gan with convolutional players.

    G: z -> linear -> (w_{s-1}, H/2^s, W/2^s) -> BN, ReLU
          -> [transposed conv 4x4 stride 2 -> BN -> ReLU] x (s-1) -> transposed conv 4x4 stride 2 -> (C, H, W)
    D: x -> conv 4x4 stride 2 -> LeakyReLU(0.2) -> [conv 4x4 stride 2 -> BN -> LeakyReLU(0.2)] x (s-1)
          -> flatten -> linear -> logit
    w_i = channels x 2^i (s = scales stride-2 stages); weights N(0, 0.02), batch norm's scale N(1, 0.02).

The losses (non-saturating or WGAN-GP), the two-player step, the optimizers and PacGAN's `pack` are
the GAN's: only the players differ. G's output goes through the GAN's sigmoid into [0,1], where
genbench's images live (the paper's tanh into [-1,1], shifted). Packing m images concatenates them
along channels, as PacGAN's DCGAN experiments do, so D's first conv takes C x m channels. D has no
batch norm under WGAN-GP, whose gradient penalty is per example (Gulrajani et al., 2017, 4).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from genbench.models import register_model
from genbench.models.gan import GAN
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Fraction, NonNegative


class Generator(nn.Module):
    def __init__(self, latent: int, widths: list[int], base: tuple[int, int], out_channels: int):
        super().__init__()
        self.base, self.c0 = base, widths[-1]
        self.project = nn.Linear(latent, widths[-1] * math.prod(base))
        layers: list[nn.Module] = [nn.BatchNorm2d(widths[-1]), nn.ReLU()]
        for a, b in zip(widths[:0:-1], widths[-2::-1], strict=True):
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(widths[0], out_channels, 4, stride=2, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(self.project(z).reshape(len(z), self.c0, *self.base))


def discriminator(in_channels: int, widths: list[int], base: tuple[int, int], batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    for a, b in zip(widths, widths[1:], strict=False):
        layers += [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(b)] if batch_norm else []  # the paper's D has none on its input layer
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * math.prod(base), 1))


@register_model("dcgan")
class DCGAN(GAN):
    def __init__(self, data_shape, loss: Literal["nonsaturating", "wgan-gp"] = "nonsaturating", latent: Count = 100,
                 channels: Count = 64, scales: Count = 2, critic_steps: Count = 1, gp_weight: NonNegative = 10.0,
                 label_smoothing: Fraction = 0.0, pack: Count = 1, init_std: NonNegative = 0.02,
                 update: Literal["alternating", "simultaneous"] = "alternating"):
        # The GAN's own __init__ builds MLP players; skip it, keep its shared options (two_player).
        NeuralModel.__init__(self, data_shape, loss=loss, latent=latent, channels=channels, scales=scales,
                             critic_steps=critic_steps, gp_weight=gp_weight, label_smoothing=label_smoothing,
                             pack=pack, init_std=init_std, update=update)
        if len(self.data_shape) != 3:
            raise ValueError(f"needs images (C, H, W), got data of shape {self.data_shape}")
        c, height, width = self.data_shape
        if height % 2 ** scales or width % 2 ** scales:
            fits = max((s for s in range(1, scales) if height % 2 ** s == 0 and width % 2 ** s == 0), default=0)
            raise ValueError(f"{height}x{width} images do not halve {scales} times (scales = {scales}): "
                             + (f"the largest that fits is scales = {fits}" if fits else "they have odd sides"))
        self.two_player(loss, latent, critic_steps, gp_weight, label_smoothing, True, pack, update)
        self.d_input = self.data_shape
        widths = [channels * 2 ** i for i in range(scales)]
        base = (height >> scales, width >> scales)
        self.G = Generator(latent, widths, base, c)
        self.D = discriminator(c * pack, widths, base, batch_norm=loss == "nonsaturating")
        if init_std:
            for layer in self.modules():
                if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                    nn.init.normal_(layer.weight, 0.0, init_std)
                elif isinstance(layer, nn.BatchNorm2d):
                    nn.init.normal_(layer.weight, 1.0, init_std)
                if getattr(layer, "bias", None) is not None:
                    nn.init.zeros_(layer.bias)
