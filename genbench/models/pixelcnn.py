"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, 2016,
"Conditional Image Generation with PixelCNN Decoders"), with the masks A/B of PixelCNN
(van den Oord, Kalchbrenner & Kavukcuoglu, 2016, "Pixel Recurrent Neural Networks").

    P(x) = prod_i prod_c P(x_ic | x_<i, x_i,<c),  each factor a softmax over the L grey levels,
    in raster order: rows, then columns, then channels.
    Gated layer:  y = tanh(W_f * x) . sigmoid(W_g * x).

Two stacks remove the blind spot of a single masked stack. The vertical stack sees the rows above:
its k x k kernel is cut to the top k//2 + 1 rows and its output shifted down one row before it
feeds the horizontal stack. The horizontal stack sees the current row up to the current pixel (a
1 x (k//2 + 1) kernel); at that pixel, feature group c sees input channels < c in the first layer
(mask A) and <= c after it (mask B). The first layer's kernel is 2k + 1 wide (the papers' 7 x 7).

Images live in [0, 1] after uniform dequantization y = (x + u) / L, where the categorical is the
density P(level(y)) * L^D, constant over each cell: the `nll` metric's bits/dim are the exact
discrete bits/dim. Training maximises log P(x) with teacher forcing (one pass). Sampling draws
pixel by pixel; finished rows' vertical-stack features are computed once, so a sample costs about
one forward pass instead of one per pixel. Samples are returned at cell centres (l + 0.5) / L,
like the dataset's reference images.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import nn
from torch.nn import functional as F

from genbench.models import register_model
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Range

CHUNK = 256  # rows per pass when scoring: 256 logits per pixel are large


def channel_mask(c_out: int, c_in: int, channels: int, centre: bool) -> torch.Tensor:
    """(c_out, c_in) connections at the current pixel: feature k belongs to colour k % channels."""
    g_out, g_in = torch.arange(c_out) % channels, torch.arange(c_in) % channels
    return (g_in[None] <= g_out[:, None]) if centre else (g_in[None] < g_out[:, None])


class MaskedConv2d(nn.Conv2d):
    """A convolution whose last kernel column (the current pixel) is masked by colour."""

    def __init__(self, c_in: int, c_out: int, width: int, channels: int, centre: bool):
        super().__init__(c_in, c_out, (1, width))
        mask = torch.ones(c_out, c_in, 1, width)
        mask[:, :, 0, -1] = channel_mask(c_out, c_in, channels, centre)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias)


def gate(x: torch.Tensor) -> torch.Tensor:
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


def down_shift(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    def __init__(self, c_in: int, hidden: int, k: int, channels: int, first: bool):
        super().__init__()
        self.r, self.first = k // 2, first
        self.v_conv = nn.Conv2d(c_in, 2 * hidden, (self.r + 1, k))
        self.h_conv = MaskedConv2d(c_in, 2 * hidden, self.r + 1, channels, centre=not first)
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.h_out = MaskedConv2d(hidden, hidden, 1, channels, centre=True)

    def vertical(self, v: torch.Tensor) -> torch.Tensor:
        """Pre-gate vertical features: row i sees rows i - r .. i."""
        return self.v_conv(F.pad(v, (self.r, self.r, self.r, 0)))

    def horizontal(self, h: torch.Tensor, from_above: torch.Tensor) -> torch.Tensor:
        """from_above: v_to_h of the vertical features of the row above (down-shifted)."""
        out = self.h_out(gate(self.h_conv(F.pad(h, (self.r, 0, 0, 0))) + from_above))
        return out if self.first else h + out

    def forward(self, v, h):
        v_pre = self.vertical(v)
        return gate(v_pre), self.horizontal(h, self.v_to_h(down_shift(v_pre)))


@register_model("pixelcnn")
class PixelCNN(NeuralModel):
    family = "autoregressive"
    has_log_prob = True

    def __init__(self, data_shape, levels: Annotated[int, Range(2)], hidden: Count = 32, layers: Count = 5,
                 kernel: Annotated[int, Range(3)] = 3):
        super().__init__(data_shape, levels=levels, hidden=hidden, layers=layers, kernel=kernel)
        if len(self.data_shape) != 3:
            raise ValueError(f"models images of shape (channels, height, width), not {self.data_shape}")
        C = self.data_shape[0]
        if kernel % 2 == 0:
            raise ValueError(f"kernel ({kernel}) must be odd (centred on the current pixel)")
        if hidden % C:
            raise ValueError(f"hidden ({hidden}) must be a multiple of the {C} channels (one feature group per colour)")
        self.L, self.C = levels, C
        self.layers = nn.ModuleList(
            GatedLayer(C if i == 0 else hidden, hidden, 2 * kernel + 1 if i == 0 else kernel, C, first=i == 0)
            for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), MaskedConv2d(hidden, hidden, 1, C, centre=True), nn.ReLU(),
                                  MaskedConv2d(hidden, levels * C, 1, C, centre=True))  # channel l*C + c: colour c

    def scaled(self, levels: torch.Tensor) -> torch.Tensor:
        return levels.float() * (2 / (self.L - 1)) - 1

    def network(self, inp: torch.Tensor) -> torch.Tensor:
        """Logits (N, L, C, H, W) of every conditional from the scaled levels (N, C, H, W)."""
        v = h = inp
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h).unflatten(1, (self.L, self.C))

    def level_of(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.L).floor().clamp(0, self.L - 1).long()

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        lv = self.level_of(x)
        log_p = self.network(self.scaled(lv)).log_softmax(1).gather(1, lv[:, None]).squeeze(1)
        return log_p.flatten(1).sum(1) + self.dim * math.log(self.L)  # density on [0,1]^D: P * L^D

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().to(self.head[-1].weight.device)
        return torch.cat([self._log_prob(chunk) for chunk in x.split(CHUNK)])

    def loss(self, batch, generator):
        return -self._log_prob(batch).mean()  # teacher-forced NLL

    @torch.no_grad()
    def sample(self, n, generator):
        return torch.cat([self._sample(len(chunk), generator) for chunk in torch.arange(n).split(CHUNK * 2)])

    def _sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        (C, H, W), L = self.data_shape, self.L
        device = self.head[-1].weight.device
        inp = torch.zeros(n, C, H, W, device=device)  # scaled levels drawn so far; the masks hide the rest
        levels = torch.zeros(n, C, H, W, dtype=torch.long, device=device)
        # Each layer's vertical-stack input; row i - 1 of layer k + 1's is filled while drawing row i.
        v_in = [inp] + [torch.zeros(n, self.hparams["hidden"], H, W, device=device) for _ in self.layers[1:]]
        # Columns left of a pixel that can still reach it through the layers from k on: each layer
        # only computes the window its successors need.
        reach = [sum(layer.r for layer in self.layers[k:]) for k in range(len(self.layers) + 1)]
        for i in range(H):
            above = []
            for k, layer in enumerate(self.layers):
                if i == 0:
                    above.append(layer.v_to_h.bias[None, :, None, None].expand(n, -1, 1, W))  # zeros above
                    continue
                v_pre = layer.vertical(v_in[k][:, :, max(0, i - 1 - layer.r):i])[:, :, -1:]  # row i - 1
                above.append(layer.v_to_h(v_pre))
                if k + 1 < len(self.layers):
                    v_in[k + 1][:, :, i - 1:i] = gate(v_pre)
            for j in range(W):
                for c in range(C):
                    lo = max(0, j - reach[0])
                    h = inp[:, :, i:i + 1, lo:j + 1]
                    for k, (layer, a) in enumerate(zip(self.layers, above, strict=True)):
                        h = layer.horizontal(h, a[..., lo:j + 1])
                        keep = max(0, j - reach[k + 1])
                        h, lo = h[..., keep - lo:], keep
                    logits = self.head(h[..., -1:]).reshape(n, L, C)[:, :, c]
                    lv = torch.multinomial(logits.softmax(1), 1, generator=generator).squeeze(1)
                    levels[:, c, i, j] = lv
                    inp[:, c, i, j] = self.scaled(lv)
        return (levels + 0.5) / L
