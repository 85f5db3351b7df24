"""Glow (Kingma & Dhariwal, 2018): a multi-scale flow of actnorm, invertible 1x1 convolutions and
affine couplings, on the multi-scale architecture of RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017).

    x in [0,1]^D -> y = logit(a + (1 - 2a) x)                      (RealNVP's preprocessing)
    for each scale:  squeeze (C, H, W) -> (4C, H/2, W/2)
                     K steps:  actnorm      h = s . (h + b)         log|det| = HW sum log|s|
                               1x1 conv     h = W h                 log|det| = HW log|det W|
                               coupling     (h_a, h_b) -> (h_a, (h_b + t(h_a)) . sigmoid(r(h_a) + 2))
                     but the last: factor out half, z = (h_2 - mu(h_1)) / sigma(h_1)  (Glow's learned
                     prior, written as a bijection), and go on with h_1
    log p(x) = log N(z; 0, I) + sum of the log-determinants above

Every data-dependent scale has |log| < LOG_SCALE_BOUND (a floor under Glow's sigmoid(r + 2)
coupling scale, a tanh bound on the prior's log sigma), so the inverse expands each step by at
most exp(LOG_SCALE_BOUND) and a sample is finite whatever z is drawn (see `bounded_scale`).
Samples are drawn at `temperature` T (z ~ N(0, T^2 I); Glow shows samples at T = 0.7) and
`log_prob` scores that same distribution; training is at T = 1.

`forward_flow` maps x to all of z, so its log-determinant can be checked against autograd, and
sampling inverts it exactly from z ~ N(0, I). Actnorm starts from the statistics of a batch of
data (`initialize`); the last convolution of each coupling and prior net starts at zero.
Each scale halves the image side, so a side must be even at every squeeze: a 28 x 28 image takes
two scales (28 -> 14 -> 7), 8 x 8 and 32 x 32 images up to three.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import nn
from torch.nn import functional as F

from genbench.models import register_model
from genbench.models.nets import std_normal_log_prob
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Positive, Range
from genbench.training import model_device

INIT_BATCH = 512  # data rows that set actnorm's initial statistics
CHUNK = 1024  # rows per pass when scoring
LOG_SCALE_BOUND = 6.0  # |log| of every data-dependent scale (couplings, learned prior) stays below it


def squeeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)


def zero_conv(c_in: int, c_out: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ActNorm(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.pending_init = False

    def forward(self, x):
        if self.pending_init:  # data-dependent init: zero mean, unit variance per channel
            self.bias.data = -x.mean((0, 2, 3), keepdim=True)
            self.log_scale.data = -torch.log(x.std((0, 2, 3), keepdim=True) + 1e-6)
            self.pending_init = False
        return (x + self.bias) * self.log_scale.exp(), x[0, 0].numel() * self.log_scale.sum().expand(len(x))

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(c, c))[0])  # a random rotation

    def forward(self, x):
        return F.conv2d(x, self.weight[:, :, None, None]), x[0, 0].numel() * torch.linalg.slogdet(self.weight)[1].expand(len(x))

    def inverse(self, y):
        return F.conv2d(y, torch.linalg.inv(self.weight)[:, :, None, None])


def bounded_scale(r: torch.Tensor) -> torch.Tensor:
    """Glow's coupling scale sigmoid(r + 2) (0.88 at the start), floored at exp(-LOG_SCALE_BOUND).

    The inverse divides by the scale, and r is a ReLU net's output, affine in its input far from the
    data: unfloored, 1/sigmoid(r + 2) ~ exp(-r) grows exponentially in the size of what the layers
    before produced, so one off-data z overflows within a few couplings (measured on
    fashion-mnist/glow v1: s down to 5e-26 in the third coupling sampled, 22% of samples NaN). The
    floor caps each coupling's expansion at exp(LOG_SCALE_BOUND): the inverse grows at most
    geometrically with depth."""
    floor = math.exp(-LOG_SCALE_BOUND)
    return floor + (1 - floor) * torch.sigmoid(r + 2)


class AffineCoupling(nn.Module):
    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.c_a = c // 2
        self.net = nn.Sequential(nn.Conv2d(self.c_a, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), zero_conv(hidden, 2 * (c - self.c_a)))

    def shift_scale(self, h_a):
        t, r = self.net(h_a).chunk(2, dim=1)
        return t, bounded_scale(r)

    def forward(self, x):
        x_a, x_b = x[:, :self.c_a], x[:, self.c_a:]
        t, s = self.shift_scale(x_a)
        return torch.cat([x_a, (x_b + t) * s], 1), torch.log(s).flatten(1).sum(1)

    def inverse(self, y):
        y_a, y_b = y[:, :self.c_a], y[:, self.c_a:]
        t, s = self.shift_scale(y_a)
        return torch.cat([y_a, y_b / s - t], 1)


class FlowStep(nn.Module):
    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.parts = nn.ModuleList([ActNorm(c), InvConv1x1(c), AffineCoupling(c, hidden)])

    def forward(self, x):
        log_det = 0
        for part in self.parts:
            x, ld = part(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, y):
        for part in reversed(self.parts):
            y = part.inverse(y)
        return y


class Split(nn.Module):
    """Factor out half the channels, standardised by a Gaussian conditioned on the kept half."""

    def __init__(self, c: int):
        super().__init__()
        self.c_keep = c // 2
        self.prior = zero_conv(self.c_keep, 2 * (c - self.c_keep))

    def mean_log_scale(self, kept):
        mu, raw = self.prior(kept).chunk(2, dim=1)
        return mu, LOG_SCALE_BOUND * torch.tanh(raw / LOG_SCALE_BOUND)  # |log sigma| < bound, as the couplings'

    def forward(self, x):
        kept, out = x[:, :self.c_keep], x[:, self.c_keep:]
        mu, log_s = self.mean_log_scale(kept)
        return kept, (out - mu) * torch.exp(-log_s), -log_s.flatten(1).sum(1)

    def inverse(self, kept, z):
        mu, log_s = self.mean_log_scale(kept)
        return torch.cat([kept, z * log_s.exp() + mu], 1)


@register_model("glow")
class Glow(NeuralModel):
    family = "flow"
    has_log_prob = True

    def __init__(self, data_shape, scales: Count = 2, steps: Count = 4, hidden: Count = 64,
                 alpha: Annotated[float, Range(0, 0.5, low_open=True, high_open=True)] = 0.01,
                 temperature: Positive = 1.0):
        super().__init__(data_shape, scales=scales, steps=steps, hidden=hidden, alpha=alpha,
                         temperature=temperature)
        self.temperature = temperature
        if len(self.data_shape) != 3:
            raise ValueError(f"models images of shape (channels, height, width), not {self.data_shape}")
        c, h, w = self.data_shape
        self.alpha = alpha
        self.z_shapes: list[tuple[int, int, int]] = []  # what each scale factors out, in order
        self.scales, self.splits = nn.ModuleList(), nn.ModuleList()
        for s in range(scales):
            if h % 2 or w % 2:
                raise ValueError(f"a {self.data_shape[1]} x {self.data_shape[2]} image takes at most {s} scale(s): "
                                 f"each squeeze halves the side, and {h} x {w} does not halve")
            c, h, w = 4 * c, h // 2, w // 2
            self.scales.append(nn.ModuleList(FlowStep(c, hidden) for _ in range(steps)))
            if s < scales - 1:
                self.splits.append(Split(c))
                self.z_shapes.append((c - c // 2, h, w))
                c //= 2
        self.z_shapes.append((c, h, w))

    def initialize(self, data, generator):
        actnorms = [m for m in self.modules() if isinstance(m, ActNorm)]
        for m in actnorms:
            m.pending_init = True
        idx = torch.randperm(len(data), generator=generator, device=generator.device)[:INIT_BATCH]
        with torch.no_grad():
            self.forward_flow(data[idx.to(data.device)])

    def forward_flow(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (N, D) and log|det dz/dx| for images x in [0,1]."""
        p = self.alpha + (1 - 2 * self.alpha) * x
        h = torch.log(p) - torch.log1p(-p)
        log_det = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        zs = []
        for s, steps in enumerate(self.scales):
            h = squeeze(h)
            for step in steps:
                h, ld = step(h)
                log_det = log_det + ld
            if s < len(self.splits):
                h, z, ld = self.splits[s](h)
                zs.append(z.flatten(1))
                log_det = log_det + ld
        return torch.cat(zs + [h.flatten(1)], 1), log_det

    def inverse_flow(self, z: torch.Tensor) -> torch.Tensor:
        parts = [p.unflatten(1, shape) for p, shape in
                 zip(z.split([math.prod(s) for s in self.z_shapes], 1), self.z_shapes, strict=True)]
        h = parts[-1]
        for s in reversed(range(len(self.scales))):
            if s < len(self.splits):
                h = self.splits[s].inverse(h, parts[s])
            for step in reversed(self.scales[s]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return (torch.sigmoid(h) - self.alpha) / (1 - 2 * self.alpha)

    def _log_prob(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """log density of x = f^-1(T z), z ~ N(0, I): log N(f(x) / T) - D log T + log|det|."""
        z, log_det = self.forward_flow(x)
        return std_normal_log_prob(z / temperature) - self.dim * math.log(temperature) + log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Under the distribution `sample` draws from (the model's temperature), as text models score."""
        x = x.float().to(model_device(self))
        return torch.cat([self._log_prob(chunk, self.temperature) for chunk in x.split(CHUNK)])

    def loss(self, batch, generator):
        return -self._log_prob(batch).mean()  # maximum likelihood, at temperature 1

    @torch.no_grad()
    def sample(self, n, generator, temperature: float | None = None):
        """z ~ N(0, T^2 I) mapped back; `temperature`: this draw's, default the model's own."""
        device, t = model_device(self), self.temperature if temperature is None else temperature
        return torch.cat([self.inverse_flow(t * torch.randn(len(chunk), self.dim, generator=generator, device=device))
                          for chunk in torch.arange(n).split(CHUNK)])
