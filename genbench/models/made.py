"""MADE (Germain et al., 2015): an autoregressive density from one masked MLP.

    p(x) = prod_d p(x_d | x_<d),   p(x_d | x_<d) = sum_k pi_dk N(x_d; mu_dk, s_dk^2)

Masks give hidden unit j a degree m(j) in 1..D-1 and allow input i -> hidden j only if m(j) >= i
and hidden j -> output d only if d > m(j), so output d sees exactly x_1..x_{d-1}. One pass gives
every conditional (exact log-likelihood, teacher forcing); sampling takes D passes, one per
coordinate in order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.models import register_model
from genbench.models.neural import NeuralModel
from genbench.registry import Count


class MaskedLinear(nn.Linear):
    def __init__(self, d_in: int, d_out: int, mask: torch.Tensor):
        super().__init__(d_in, d_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


@register_model("made")
class MADE(NeuralModel):
    family = "autoregressive"
    has_log_prob = True

    def __init__(self, data_shape, hidden: Count = 256, layers: Count = 2, components: Count = 10):
        super().__init__(data_shape, hidden=hidden, layers=layers, components=components)
        D, K = self.dim, components
        self.K = K
        degrees = [torch.arange(1, D + 1)]  # input degrees 1..D
        for _ in range(layers):
            degrees.append(torch.arange(hidden) % max(1, D - 1) + 1)
        mods: list[nn.Module] = []
        for a, b in zip(degrees[:-1], degrees[1:], strict=True):
            mods += [MaskedLinear(len(a), len(b), b[:, None] >= a[None, :]), nn.ReLU()]
        out_degrees = torch.arange(1, D + 1).repeat(3 * K)  # 3K outputs per coordinate d
        mods.append(MaskedLinear(len(degrees[-1]), 3 * K * D, out_degrees[:, None] > degrees[-1][None, :]))
        self.net = nn.Sequential(*mods)

    def conditionals(self, x: torch.Tensor):
        """Mixture parameters of every p(x_d | x_<d), each (N, D, K)."""
        return self._mixture(*self.net(x).reshape(len(x), 3, self.K, self.dim).permute(1, 0, 3, 2))

    @staticmethod
    def _mixture(logit_pi, mu, log_s):
        return logit_pi.log_softmax(-1), mu, log_s.clamp(-9, 5)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float().to(self.net[0].weight.device)
        log_pi, mu, log_s = self.conditionals(x)
        z = (x[..., None] - mu) / log_s.exp()
        log_n = -0.5 * z * z - log_s - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(log_pi + log_n, -1).sum(1)

    def loss(self, batch, generator):
        return -self.log_prob(batch).mean()  # teacher-forced NLL

    def conditional(self, x: torch.Tensor, d: int):
        """Mixture parameters of p(x_d | x_<d) alone, each (N, K). Sampling needs one coordinate
        per pass, so only that coordinate's 3K output rows are computed, not all 3KD."""
        out = self.net[-1]
        rows = torch.arange(3 * self.K, device=x.device) * self.dim + d  # row (c, k, d) = (cK + k)D + d
        h = self.net[:-1](x)
        raw = nn.functional.linear(h, out.weight[rows] * out.mask[rows], out.bias[rows])
        return self._mixture(*raw.reshape(len(x), 3, self.K).unbind(1))

    @torch.no_grad()
    def sample(self, n, generator):
        device = self.net[0].weight.device
        x = torch.zeros(n, self.dim, device=device)
        i = torch.arange(n, device=device)
        for d in range(self.dim):
            log_pi, mu, log_s = self.conditional(x, d)
            k = torch.multinomial(log_pi.exp(), 1, generator=generator).squeeze(1)
            eps = torch.randn(n, generator=generator, device=device)
            x[:, d] = mu[i, k] + log_s[i, k].exp() * eps
        return x.reshape(n, *self.data_shape)
