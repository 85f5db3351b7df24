"""Denoising diffusion probabilistic model (Ho, Jain & Abbeel, 2020), epsilon-prediction.

Forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), abar_t = prod_{s<=t} (1 - beta_s),
with a linear beta schedule. Training ("simple" loss, Algorithm 1):
    t ~ U{1..T}, eps ~ N(0, I),  L = || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2
Sampling (Algorithm 2), x_T ~ N(0, I) and for t = T..1:
    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,  sigma_t^2 = beta_t
Images are modelled in [-1, 1] (x_0 = 2y - 1) as in the paper; samples are mapped back to [0, 1].
"""

from __future__ import annotations

import torch

from genbench.models import register_model
from genbench.models.nets import mlp, timestep_embedding
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Proportion


class Diffusion(NeuralModel):
    """The schedule, the loss and ancestral sampling above for any noise predictor: a subclass
    writes `eps_theta(x_t, t)` on data-shaped x_t and sets `images`."""

    family = "diffusion"
    has_log_prob = False
    images: bool

    def __init__(self, data_shape, timesteps: int, beta_start: float, beta_end: float, **hparams):
        super().__init__(data_shape, timesteps=timesteps, beta_start=beta_start, beta_end=beta_end, **hparams)
        if beta_start > beta_end:
            raise ValueError(f"beta_start {beta_start} must be <= beta_end {beta_end}")
        self.T = timesteps
        betas = torch.linspace(beta_start, beta_end, timesteps)
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", 1 - betas)
        self.register_buffer("abar", torch.cumprod(1 - betas, 0))

    def eps_theta(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, batch, generator):
        x0 = 2 * batch - 1 if self.images else batch
        t = torch.randint(0, self.T, (len(x0),), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device)
        abar = self.abar[t].reshape(-1, *[1] * (x0.ndim - 1))
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        return (eps - self.eps_theta(x_t, t)).pow(2).flatten(1).sum(1).mean()

    def ancestral_mean(self, x: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_{t-1} | x_t) in Algorithm 2."""
        return (x - self.betas[t] / (1 - self.abar[t]).sqrt() * eps) / self.alphas[t].sqrt()

    def from_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2 if self.images else x

    @torch.no_grad()
    def sample(self, n, generator):
        device = self.betas.device
        x = torch.randn(n, *self.data_shape, generator=generator, device=device)
        for t in reversed(range(self.T)):
            tt = torch.full((n,), t, device=device, dtype=torch.long)
            mean = self.ancestral_mean(x, t, self.eps_theta(x, tt))
            noise = torch.randn(x.shape, generator=generator, device=device) if t > 0 else torch.zeros_like(x)
            x = mean + self.betas[t].sqrt() * noise
        return self.from_model_space(x)


@register_model("ddpm")
class DDPM(Diffusion):
    def __init__(self, data_shape, timesteps: Count = 1000, beta_start: Proportion = 1e-4, beta_end: Proportion = 0.02,
                 hidden: Count = 256, layers: Count = 3, time_dim: Count = 64, images: bool = False):
        if time_dim % 2:
            raise ValueError(f"time_dim {time_dim} must be even (sines and cosines)")
        super().__init__(data_shape, timesteps, beta_start, beta_end, hidden=hidden, layers=layers,
                         time_dim=time_dim, images=images)
        self.time_dim, self.images = time_dim, images
        self.eps_net = mlp(self.dim + time_dim, hidden, self.dim, layers)

    def eps_theta(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        flat = x_t.reshape(len(x_t), -1)
        return self.eps_net(torch.cat([flat, timestep_embedding(t, self.time_dim)], dim=1)).reshape(x_t.shape)
