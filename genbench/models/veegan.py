"""VEEGAN: Srivastava, Valkov, Russell, Gutmann & Sutton, "VEEGAN: Reducing Mode Collapse in GANs using
Implicit Variational Learning", NeurIPS 2017 (Algorithm 1), with MLP players.

Players: a generator G_gamma(z, eps) -> x, fed z ~ p0 = N(0, I_K) and eps ~ N(0, I_E), noise that is not
reconstructed; a reconstructor F_theta(x) -> R^K, the mean of p_theta(z | x) = N(z; F_theta(x), I); a
discriminator D_omega(z, x) -> a logit, estimating the log density ratio
    D_omega(z, x) ~ log [q_gamma(x | z) p0(z)] / [p_theta(z | x) p(x)].
One step on n real x^i (the trainer's batch), with z^i ~ p0, eps^i ~ N(0, I), x_g^i = G(z^i, eps^i):
    generator pairs     (z^i, x_g^i)
    reconstructor pairs (z_r^i, x^i),  z_r^i ~ p_theta(z | x^i) = F(x^i) + N(0, I)
    O_LR(omega)     = -1/n sum log sigma(D(z^i, x_g^i)) - 1/n sum log(1 - sigma(D(z_r^i, x^i)))
    O^(gamma, theta) = 1/n sum D(z^i, x_g^i) + lambda 1/n sum d(z^i, F(x_g^i)),  d(z, z') = ||z - z'||^2 / 2
(d is -log N(z; F(x_g), I) less its constant, the notebook's reconstruction likelihood; lambda = 1 in the
paper.) Then, as Algorithm 1, every gradient at the current weights before any player moves:
    omega <- omega - eta grad_omega O_LR,  gamma <- gamma - eta grad_gamma O^,  theta <- theta - eta grad_theta O^
where grad_theta O^ is the reconstruction term's alone (the generator pairs never pass through F). The
reconstructor pairs are a sample, so F learns only from the l2 term, as in the paper.

`joint = false` is the plain GAN under the same protocol: D sees x alone, real x against G's x_g, with
the same losses (D labels generated data 1, G minimises D's logit on its samples); with
`reconstruction = 0` there is then no F at all. A GAN has no likelihood, nor has this.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from genbench.models import register_model
from genbench.models.nets import mlp
from genbench.models.neural import NeuralModel, player_optimizers
from genbench.registry import Count, Natural, NonNegative


@register_model("veegan")
class VEEGAN(NeuralModel):
    family = "gan"
    has_log_prob = False

    def __init__(self, data_shape, latent: Count = 254, eps_dim: Natural = 1, hidden: Count = 128, layers: Count = 2,
                 d_hidden: Count = 128, d_layers: Count = 1, reconstruction: NonNegative = 1.0, joint: bool = True,
                 init: Literal["xavier", "pytorch"] = "xavier"):
        super().__init__(data_shape, latent=latent, eps_dim=eps_dim, hidden=hidden, layers=layers, d_hidden=d_hidden,
                         d_layers=d_layers, reconstruction=reconstruction, joint=joint, init=init)
        if joint and reconstruction == 0:
            raise ValueError("joint = true pairs real x with z ~ N(F(x), I), and F learns only from the "
                             "reconstruction term: give reconstruction > 0 (or joint = false, the plain GAN)")
        self.latent, self.eps_dim, self.weight, self.joint = latent, eps_dim, reconstruction, joint
        self.G = mlp(latent + eps_dim, hidden, self.dim, layers, act=torch.nn.ReLU)
        self.F = mlp(self.dim, hidden, latent, layers, act=torch.nn.ReLU) if reconstruction > 0 else None
        self.D = mlp((latent if joint else 0) + self.dim, d_hidden, 1, d_layers, act=torch.nn.ReLU)
        if init == "xavier":  # TF-slim's fully_connected defaults, the notebook's: Glorot-uniform weights, zero biases
            for layer in self.modules():
                if isinstance(layer, torch.nn.Linear):
                    torch.nn.init.xavier_uniform_(layer.weight)
                    torch.nn.init.zeros_(layer.bias)

    def configure_training(self, cfg) -> None:
        gf = [self.G] + ([self.F] if self.F is not None else [])  # G and F descend O^ together
        (self.opt_d, self.opt_gf), self.sched = player_optimizers(cfg, [self.D], gf)
        self.grad_clip = cfg.grad_clip

    def optimizers(self) -> list:
        return [self.opt_d, self.opt_gf]

    def schedulers(self) -> list:
        return self.sched

    def prior(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ N(0, I_K) and the generator's extra noise eps ~ N(0, I_E), in that order."""
        device = next(self.G.parameters()).device
        z = torch.randn(n, self.latent, generator=generator, device=device)
        return z, torch.randn(n, self.eps_dim, generator=generator, device=device)

    def pair(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """D's input: the pair (z, x) side by side, or x alone for the plain GAN."""
        return torch.cat([z, x], dim=1) if self.joint else x

    def losses(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """O_LR (D's loss), O^ (G's and F's) and the reconstruction term, all at the current weights."""
        n = len(x)
        z, eps = self.prior(n, generator)
        x_g = self.G(torch.cat([z, eps], dim=1))
        recon = torch.zeros((), device=x.device)
        if self.F is not None:
            recon = 0.5 * (z - self.F(x_g)).pow(2).sum(1).mean()
        z_r = None
        if self.joint:  # z_r ~ p_theta(z | x) = N(F(x), I): a sample, which D's loss does not differentiate into F
            z_r = (self.F(x) + torch.randn(n, self.latent, generator=generator, device=x.device)).detach()
        d_gen, d_rec = self.D(self.pair(z, x_g.detach())), self.D(self.pair(z_r, x))
        loss_d = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen)) + \
            F.binary_cross_entropy_with_logits(d_rec, torch.zeros_like(d_rec))
        loss_gf = self.D(self.pair(z, x_g)).mean() + self.weight * recon  # differentiated into G and F only
        return {"loss": loss_gf, "loss_d": loss_d, "recon": recon}

    def train_step(self, batch, generator):
        self.train()
        losses = self.losses(batch.reshape(len(batch), self.dim), generator)
        players = [(self.opt_d, losses["loss_d"]), (self.opt_gf, losses["loss"])]
        for opt, loss in players:  # both gradients at the current weights, then both steps
            params = [p for group in opt.param_groups for p in group["params"]]
            opt.zero_grad(set_to_none=True)
            loss.backward(inputs=params)
            if self.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        for opt, _ in players:
            opt.step()
        for s in self.sched:
            s.step()
        return {k: v.item() for k, v in losses.items()}

    @torch.no_grad()
    def sample(self, n, generator):
        self.eval()
        z, eps = self.prior(n, generator)
        return self.G(torch.cat([z, eps], dim=1)).reshape(n, *self.data_shape)
