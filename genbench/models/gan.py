"""Generative adversarial networks: the non-saturating GAN (Goodfellow et al., 2014) and WGAN-GP
(Gulrajani et al., 2017), with MLP players.

Non-saturating (D outputs a logit, sigma its sigmoid):
    L_D = -E_x log sigma(D(x)) - E_z log(1 - sigma(D(G(z))))     (real target 1 - label_smoothing)
    L_G = -E_z log sigma(D(G(z)))
WGAN-GP (D is a critic):
    L_D = E_z D(G(z)) - E_x D(x) + lambda E_xhat (||grad D(xhat)|| - 1)^2,  xhat = u x + (1-u) G(z)
    L_G = -E_z D(G(z))
The two-player step is this model's own `train_step`: `critic_steps` discriminator updates, each on
its own slice of the trainer's batch (fresh real data per critic iteration, as in WGAN-GP's
Algorithm 1, so a recipe's batch_size is critic_steps x m), then one generator update on m fresh
latents. A GAN has no likelihood.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from genbench.models import register_model
from genbench.models.nets import mlp
from genbench.models.neural import NeuralModel, lr_factor


@register_model("gan")
class GAN(NeuralModel):
    family = "gan"
    has_log_prob = False

    def __init__(self, data_shape, loss: Literal["nonsaturating", "wgan-gp"] = "nonsaturating", latent: int = 16,
                 hidden: int = 256, layers: int = 3, critic_steps: int = 1, gp_weight: float = 10.0,
                 label_smoothing: float = 0.0, images: bool = False, dropout: float = 0.0, batch_norm: bool = False):
        super().__init__(data_shape, loss=loss, latent=latent, hidden=hidden, layers=layers, critic_steps=critic_steps,
                         gp_weight=gp_weight, label_smoothing=label_smoothing, images=images, dropout=dropout,
                         batch_norm=batch_norm)
        self.kind, self.latent, self.critic_steps = loss, latent, critic_steps
        self.gp_weight, self.label_smoothing, self.images = gp_weight, label_smoothing, images
        # Batch norm in the generator only, as DCGAN does; a WGAN-GP critic must not have it (the
        # penalty is per example).
        self.G = mlp(latent, hidden, self.dim, layers, batch_norm=batch_norm)
        self.D = mlp(self.dim, hidden, 1, layers, act=lambda: torch.nn.LeakyReLU(0.2), dropout=dropout)

    def generate(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.latent, generator=generator, device=self.G[0].weight.device)
        x = self.G(z)
        return torch.sigmoid(x) if self.images else x  # images live in [0,1]

    def configure_training(self, cfg) -> None:
        betas = (cfg.beta1, cfg.beta2)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
        self.sched = [torch.optim.lr_scheduler.LambdaLR(o, lr_factor(cfg)) for o in (self.opt_d, self.opt_g)]
        self.grad_clip = cfg.grad_clip

    def optimizers(self) -> list:
        return [self.opt_d, self.opt_g]

    def schedulers(self) -> list:
        return self.sched

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        d_real, d_fake = self.D(real), self.D(fake)
        if self.kind == "nonsaturating":
            target = torch.full_like(d_real, 1.0 - self.label_smoothing)
            return F.binary_cross_entropy_with_logits(d_real, target) + F.softplus(d_fake).mean()
        u = torch.rand(len(real), 1, generator=generator, device=real.device)
        x_hat = (u * real + (1 - u) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        penalty = (grad.norm(dim=1) - 1).pow(2).mean()
        return d_fake.mean() - d_real.mean() + self.gp_weight * penalty

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        d_fake = self.D(fake)
        return F.softplus(-d_fake).mean() if self.kind == "nonsaturating" else -d_fake.mean()

    def _step(self, opt, loss, params):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        opt.step()

    def train_step(self, batch, generator):
        self.train()
        slices = batch.reshape(len(batch), -1).chunk(self.critic_steps)
        for real in slices:
            fake = self.generate(len(real), generator).reshape(len(real), -1).detach()
            loss_d = self.d_loss(real, fake, generator)
            self._step(self.opt_d, loss_d, list(self.D.parameters()))
        m = len(slices[0])
        loss_g = self.g_loss(self.generate(m, generator).reshape(m, -1))
        self._step(self.opt_g, loss_g, list(self.G.parameters()))
        for s in self.sched:
            s.step()
        return {"loss": loss_g.item(), "loss_d": loss_d.item()}

    @torch.no_grad()
    def sample(self, n, generator):
        self.eval()
        return self.generate(n, generator).reshape(n, *self.data_shape)
