"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017): a stack of affine couplings, exact likelihood.

Coupling with binary mask m (x_a = m*x kept, the rest transformed):
    y = m*x + (1-m) * (x * exp(s(m*x)) + t(m*x)),     log|det dy/dx| = sum (1-m)*s(m*x)
Masks alternate, so every coordinate is transformed by half of the layers. With z = f(x):
    log p(x) = log N(z; 0, I) + sum_layers log|det|,   x = f^-1(z) samples exactly.
s is squashed by tanh for stability early in training.
"""

from __future__ import annotations

import torch
from torch import nn

from genbench.models import register_model
from genbench.models.nets import mlp, std_normal_log_prob
from genbench.models.neural import NeuralModel
from genbench.registry import Count


class AffineCoupling(nn.Module):
    def __init__(self, mask: torch.Tensor, hidden: int):
        super().__init__()
        self.register_buffer("mask", mask)
        d = len(mask)
        self.net = mlp(d, hidden, 2 * d, layers=2)
        nn.init.zeros_(self.net[-1].weight)  # start at the identity map
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(d))

    def s_t(self, x_kept: torch.Tensor):
        s, t = self.net(x_kept).chunk(2, dim=1)
        return self.scale * torch.tanh(s) * (1 - self.mask), t * (1 - self.mask)

    def forward(self, x):  # data -> latent direction
        s, t = self.s_t(x * self.mask)
        return x * self.mask + (1 - self.mask) * (x * s.exp() + t), s.sum(1)

    def inverse(self, y):
        s, t = self.s_t(y * self.mask)
        return y * self.mask + (1 - self.mask) * ((y - t) * torch.exp(-s))


@register_model("realnvp")
class RealNVP(NeuralModel):
    family = "flow"
    has_log_prob = True

    def __init__(self, data_shape, layers: Count = 8, hidden: Count = 128):
        super().__init__(data_shape, layers=layers, hidden=hidden)
        parity = torch.arange(self.dim) % 2
        self.couplings = nn.ModuleList(
            AffineCoupling((parity if i % 2 == 0 else 1 - parity).float(), hidden) for i in range(layers))

    def forward_flow(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, log_det = x.reshape(len(x), -1), torch.zeros(len(x), device=x.device)
        for layer in self.couplings:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def inverse_flow(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.couplings):
            z = layer.inverse(z)
        return z.reshape(len(z), *self.data_shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, log_det = self.forward_flow(x.float().to(self.couplings[0].mask.device))
        return std_normal_log_prob(z) + log_det

    def loss(self, batch, generator):
        return -self.log_prob(batch).mean()  # maximum likelihood

    @torch.no_grad()
    def sample(self, n, generator):
        z = torch.randn(n, self.dim, generator=generator, device=self.couplings[0].mask.device)
        return self.inverse_flow(z)
