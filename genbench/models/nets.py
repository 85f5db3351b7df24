"""Small building blocks shared by the neural families."""

from __future__ import annotations

import math

import torch
from torch import nn


class LinearMaxout(nn.Module):
    """Maxout unit (Goodfellow, Warde-Farley, Mirza, Courville & Bengio, "Maxout Networks", ICML 2013):
    each output is the max over `pieces` affine maps of the input, h_i = max_j (W x + b)_{i,j}."""

    def __init__(self, d_in: int, d_out: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(d_in, d_out * pieces)  # rows i*pieces .. i*pieces+pieces-1 are output i's pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).unflatten(-1, (-1, self.pieces)).amax(-1)


def mlp(d_in: int, hidden: int, d_out: int, layers: int = 2, act=nn.SiLU, dropout: float = 0.0,
        norm=None, maxout_pieces: int = 0, bias: bool = True) -> nn.Sequential:
    """d_in -> hidden (x layers) -> d_out; `norm(hidden)` (e.g. batch norm, Ioffe & Szegedy 2015) before
    each activation, and with `bias = False` hidden layers without a bias (a norm after them cancels it);
    with `maxout_pieces`, each hidden layer is a LinearMaxout (its own non-linearity) instead. The
    output layer keeps its bias."""
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(layers):
        if maxout_pieces:
            mods.append(LinearMaxout(d, hidden, maxout_pieces))
        else:
            mods += [nn.Linear(d, hidden, bias=bias)] + ([norm(hidden)] if norm is not None else []) + [act()]
        if dropout > 0:
            mods.append(nn.Dropout(dropout))
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017; as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return (-0.5 * z * z - 0.5 * math.log(2 * math.pi)).sum(1)
