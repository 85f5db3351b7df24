"""Variational autoencoder (Kingma & Welling, 2014) with a Gaussian decoder.

    q(z|x) = N(mu(x), diag sigma^2(x)),  p(z) = N(0, I),  p(x|z) = N(g(z), diag exp(2 log_s))
    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)),  z = mu + sigma * eps  (reparameterization)

`log_prob` is the importance-weighted bound (Burda et al., 2016) with k = 100 samples,
    log p(x) >= log 1/k sum_i p(x, z_i) / q(z_i|x),
tighter than the ELBO (k = 1); the NLL it gives is an upper bound on the true NLL. Its noise comes
from a fixed generator, so the number is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.models import register_model
from genbench.models.nets import mlp, std_normal_log_prob
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Fraction

IWAE_K = 100
IWAE_SEED = 4321


class GaussianVAE(NeuralModel):
    """The objective and the bound above for any encoder/decoder pair. A subclass builds
    `encoder` (x -> 2*latent: mu and log sigma^2), `decoder` (z -> the mean of x), `log_s` (the
    decoder's log noise scale, shaped like the decoder's output) and says in `shape` how its nets
    take x (flat rows for an MLP, images for a conv net)."""

    family = "vae"
    has_log_prob = True
    log_prob_is_bound = True  # the IWAE estimate
    latent: int

    def shape(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var.clamp(-12, 8)

    def log_px_given_z(self, x, z):
        z_scaled = (x - self.decoder(z)) / self.log_s.exp()
        return std_normal_log_prob(z_scaled.flatten(1)) - self.log_s.sum()

    def elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = self.shape(x)
        mu, log_var = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + (0.5 * log_var).exp() * eps  # reparameterization trick
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1)
        return self.log_px_given_z(x, z) - kl

    def loss(self, batch, generator):
        return -self.elbo(batch, generator).mean()

    @torch.no_grad()
    def iwae(self, x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        x = self.shape(x)
        mu, log_var = self.encode(x)
        std = (0.5 * log_var).exp()
        log_w = []
        for _ in range(k):
            eps = torch.randn(mu.shape, generator=generator, device=mu.device)
            z = mu + std * eps
            log_q = std_normal_log_prob(eps) - torch.log(std).sum(1)
            log_w.append(self.log_px_given_z(x, z) + std_normal_log_prob(z) - log_q)
        return torch.logsumexp(torch.stack(log_w), 0) - math.log(k)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        device = self.log_s.device
        return self.iwae(x.float().to(device), IWAE_K, torch.Generator(device=device).manual_seed(IWAE_SEED))

    @torch.no_grad()
    def sample(self, n, generator):
        z = torch.randn(n, self.latent, generator=generator, device=self.log_s.device)
        return self.decoder(z).reshape(n, *self.data_shape)  # the decoder mean, as is customary


@register_model("vae")
class VAE(GaussianVAE):
    def __init__(self, data_shape, latent: Count = 8, hidden: Count = 256, layers: Count = 2, dropout: Fraction = 0.0):
        super().__init__(data_shape, latent=latent, hidden=hidden, layers=layers, dropout=dropout)
        self.latent = latent
        self.encoder = mlp(self.dim, hidden, 2 * latent, layers, dropout=dropout)
        self.decoder = mlp(latent, hidden, self.dim, layers, dropout=dropout)
        self.log_s = nn.Parameter(torch.full((self.dim,), math.log(0.1)))  # decoder noise scale

    def shape(self, x):
        return x.reshape(len(x), -1)
