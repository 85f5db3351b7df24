"""DDPM with a U-Net noise predictor (Ho, Jain & Abbeel, 2020, Appendix B).

Training and sampling are genbench.models.ddpm's (Algorithm 1; ancestral, DDIM or ILVR-guided
sampling with the predicted x_0 clipped), on images in [-1, 1]. eps_theta is a U-Net: residual
blocks with group norm and a sinusoidal time embedding added inside each block, stride-2
downsampling, skip connections to the upsampling path, and self-attention at the lowest resolution.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import register_model
from genbench.models.ddpm import Diffusion, Eta
from genbench.models.nets import timestep_embedding
from genbench.registry import Count, Fraction, Natural, Proportion

GROUPS = 8  # group norm groups (Wu & He 2018), as in the paper's U-Net


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUPS, channels)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2, self.drop, self.conv2 = norm(c_out), nn.Dropout(dropout), nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.time(temb)[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm, self.qkv, self.out = norm(channels), nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)

    def forward(self, x):
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(-1, -2).unbind(1)
        a = F.scaled_dot_product_attention(q, k, v)  # (n, hw, c)
        return x + self.out(a.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """Widths channels * 2^i at the resolutions H / 2^i, i = 0..scales (rounded up: 28, 14, 7)."""

    def __init__(self, in_channels: int, channels: int, scales: int, blocks: int, dropout: float):
        super().__init__()
        self.t_in, t_dim = channels, 4 * channels
        self.time = nn.Sequential(nn.Linear(channels, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        widths = [channels * 2 ** i for i in range(scales + 1)]
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.down, self.downsample, c = nn.ModuleList(), nn.ModuleList(), channels
        for i, w in enumerate(widths):
            self.down.append(nn.ModuleList(ResBlock(c if b == 0 else w, w, t_dim, dropout) for b in range(blocks)))
            c = w
            if i < scales:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.mid1, self.attn, self.mid2 = ResBlock(c, c, t_dim, dropout), SelfAttention(c), ResBlock(c, c, t_dim, dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            self.up.append(nn.ModuleList(ResBlock((c if b == 0 else w) + w, w, t_dim, dropout) for b in range(blocks)))
            c = w
            if i > 0:
                self.upsample.append(nn.Conv2d(w, widths[i - 1], 3, padding=1))
                c = widths[i - 1]
        self.norm_out, self.conv_out = norm(channels), nn.Conv2d(channels, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t):
        temb = self.time(timestep_embedding(t, self.t_in))
        h, skips = self.conv_in(x), []
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, temb)
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        for i, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), temb)
            if i < len(self.upsample):  # nearest-neighbour up to the skip's size (7 -> 14, and 4 -> 7)
                h = self.upsample[i](F.interpolate(h, size=skips[-1].shape[-2:], mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def unet_for(data_shape: tuple[int, ...], channels: int, scales: int, blocks: int, dropout: float) -> UNet:
    """The U-Net for images of this shape, refused (ValueError) for other data or widths."""
    if len(data_shape) != 3:
        raise ValueError(f"needs images (C, H, W), got data of shape {tuple(data_shape)}")
    if channels % GROUPS:
        raise ValueError(f"channels must be a multiple of {GROUPS} (group norm groups), got {channels}")
    return UNet(data_shape[0], channels, scales, blocks, dropout)


@register_model("unet-ddpm")
class UNetDDPM(Diffusion):
    def __init__(self, data_shape, timesteps: Count = 1000, beta_start: Proportion = 1e-4, beta_end: Proportion = 0.02,
                 channels: Count = 32, scales: Natural = 2, blocks: Count = 1, dropout: Fraction = 0.0,
                 sampler: Literal["ddpm", "ddim"] = "ddim", sample_steps: Natural = 50, eta: Eta = 0.0,
                 clip_denoised: bool = True):
        super().__init__(data_shape, timesteps, beta_start, beta_end, sampler, sample_steps, eta, clip_denoised, True,
                         channels=channels, scales=scales, blocks=blocks, dropout=dropout)
        self.net = unet_for(self.data_shape, channels, scales, blocks, dropout)

    def eps_theta(self, x_t, t):
        return self.net(x_t, t)
