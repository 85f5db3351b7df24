"""DDPM with a U-Net noise predictor (Ho, Jain & Abbeel, 2020), sampled by DDPM or DDIM (Song,
Meng & Ermon, 2021).

Training is genbench.models.ddpm's Algorithm 1 (epsilon-prediction, linear betas), on images in [-1, 1].
eps_theta is a U-Net: residual blocks with group norm and a sinusoidal time embedding added
inside each block, stride-2 downsampling, skip connections to the upsampling path, and
self-attention at the lowest resolution.
Sampling, x_T ~ N(0, I):
  sampler = "ddpm": Algorithm 2 over all T steps (sample_steps must be T).
  sampler = "ddim": the generalized update (Song et al. eq. 12) on a sub-sequence tau of
    `sample_steps` timesteps, with predicted x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t):
      x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) eps + sigma z,
      sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s),
    with eta = 0: deterministic given x_T, so a few dozen network passes give a sample.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import register_model
from genbench.models.ddpm import Diffusion
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


@register_model("unet-ddpm")
class UNetDDPM(Diffusion):
    images = True

    def __init__(self, data_shape, timesteps: Count = 1000, beta_start: Proportion = 1e-4, beta_end: Proportion = 0.02,
                 channels: Count = 32, scales: Natural = 2, blocks: Count = 1, dropout: Fraction = 0.0,
                 sampler: Literal["ddpm", "ddim"] = "ddim", sample_steps: Count = 50):
        super().__init__(data_shape, timesteps, beta_start, beta_end, channels=channels, scales=scales, blocks=blocks,
                         dropout=dropout, sampler=sampler, sample_steps=sample_steps)
        if len(self.data_shape) != 3:
            raise ValueError(f"needs images (C, H, W), got data of shape {self.data_shape}")
        if channels % GROUPS:
            raise ValueError(f"channels must be a multiple of {GROUPS} (group norm groups), got {channels}")
        if sample_steps > timesteps:
            raise ValueError(f"sample_steps must be at most timesteps={timesteps}, got {sample_steps}")
        if sampler == "ddpm" and sample_steps != timesteps:
            raise ValueError(f"sampler 'ddpm' takes all timesteps: sample_steps must be {timesteps}, "
                             f"got {sample_steps} (or use sampler 'ddim')")
        self.sampler, self.sample_steps = sampler, sample_steps
        self.net = UNet(self.data_shape[0], channels, scales, blocks, dropout)

    def eps_theta(self, x_t, t):
        return self.net(x_t, t)

    def ddim_timesteps(self) -> list[int]:
        """tau: `sample_steps` timesteps evenly spaced in 0..T-1, from T-1 down to 0."""
        tau = torch.linspace(0, self.T - 1, self.sample_steps).round().long().unique()
        return tau.flip(0).tolist()

    def ddim_step(self, x: torch.Tensor, t: int, s: int, eps: torch.Tensor, eta: float):
        """Mean and standard deviation of x_s given x_t (s < t; s = -1 is x_0, where abar = 1)."""
        abar_t = self.abar[t]
        abar_s = self.abar[s] if s >= 0 else torch.ones_like(abar_t)
        x0 = (x - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()
        sigma = eta * ((1 - abar_s) / (1 - abar_t) * (1 - abar_t / abar_s)).sqrt()
        return abar_s.sqrt() * x0 + (1 - abar_s - sigma ** 2).clamp(min=0).sqrt() * eps, sigma

    @torch.no_grad()
    def sample(self, n, generator):
        if self.sampler == "ddpm":
            return super().sample(n, generator)
        return self.sample_ddim(torch.randn(n, *self.data_shape, generator=generator, device=self.betas.device))

    @torch.no_grad()
    def sample_ddim(self, x: torch.Tensor) -> torch.Tensor:
        """DDIM with eta = 0 from the given x_T: no further noise is drawn."""
        tau = self.ddim_timesteps()
        for t, s in zip(tau, tau[1:] + [-1], strict=True):
            tt = torch.full((len(x),), t, device=x.device, dtype=torch.long)
            x, _ = self.ddim_step(x, t, s, self.eps_theta(x, tt), eta=0.0)
        return self.from_model_space(x)
