"""Generative adversarial networks: the non-saturating GAN (Goodfellow et al., 2014), WGAN-GP
(Gulrajani et al., 2017) and packing (PacGAN: Lin, Khetan, Fanti & Oh, NeurIPS 2018), with MLP players.

Non-saturating (D outputs a logit, sigma its sigmoid):
    L_D = -E_x log sigma(D(x)) - E_z log(1 - sigma(D(G(z))))     (real target 1 - label_smoothing)
    L_G = -E_z log sigma(D(G(z)))
WGAN-GP (D is a critic):
    L_D = E_z D(G(z)) - E_x D(x) + lambda E_xhat (||grad D(xhat)|| - 1)^2,  xhat = u x + (1-u) G(z)
    L_G = -E_z D(G(z))
PacGAN-m: D scores m samples at once, concatenated into one input of m x dim numbers, all real or all
generated (x = [x_1, ..., x_m]); the losses are unchanged. A mode-collapsed G cannot hide in a pack,
which is what penalises collapse. pack = 1 is the GAN above.

The two-player step is this model's own `train_step`: `critic_steps` discriminator updates, each on
its own slice of the trainer's batch (fresh real data per critic iteration, as in WGAN-GP's
Algorithm 1), then one generator update on fresh latents, as many as one slice has rows. So a
recipe's batch_size is critic_steps x pack x (D inputs per update); rows of a slice left over after
packing are dropped. `update = "simultaneous"` instead takes both players' gradients at the same
weights on the same generated batch before either moves, as PacGAN's code does (ALI's
`ali_algorithm`: one gradient-descent step on both losses). A GAN has no likelihood.

Other players (DCGAN's convolutions, genbench.models.dcgan) come from a subclass: it calls
`two_player` for the shared options and sets `G`, `D` and `d_input`; everything else here is shared.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from genbench.models import register_model
from genbench.models.nets import mlp
from genbench.models.neural import NeuralModel, lr_factor, param_groups
from genbench.registry import Count, Fraction, Natural, NonNegative


@register_model("gan")
class GAN(NeuralModel):
    family = "gan"
    has_log_prob = False

    def __init__(self, data_shape, loss: Literal["nonsaturating", "wgan-gp"] = "nonsaturating", latent: Count = 16,
                 hidden: Count = 256, layers: Count = 3, critic_steps: Count = 1, gp_weight: NonNegative = 10.0,
                 label_smoothing: Fraction = 0.0, images: bool = False, dropout: Fraction = 0.0, batch_norm: bool = False,
                 pack: Count = 1, g_activation: Literal["silu", "relu"] = "silu",
                 discriminator: Literal["mlp", "maxout"] = "mlp", d_hidden: Natural = 0, d_layers: Natural = 0,
                 maxout_pieces: Count = 5, init_std: NonNegative = 0.0,
                 update: Literal["alternating", "simultaneous"] = "alternating"):
        super().__init__(data_shape, loss=loss, latent=latent, hidden=hidden, layers=layers, critic_steps=critic_steps,
                         gp_weight=gp_weight, label_smoothing=label_smoothing, images=images, dropout=dropout,
                         batch_norm=batch_norm, pack=pack, g_activation=g_activation, discriminator=discriminator,
                         d_hidden=d_hidden, d_layers=d_layers, maxout_pieces=maxout_pieces, init_std=init_std,
                         update=update)
        self.two_player(loss, latent, critic_steps, gp_weight, label_smoothing, images, pack, update)
        # Batch norm in the generator only, as DCGAN does; a WGAN-GP critic must not have it (the
        # penalty is per example).
        self.G = mlp(latent, hidden, self.dim, layers, act=torch.nn.ReLU if g_activation == "relu" else torch.nn.SiLU,
                     batch_norm=batch_norm)
        self.D = mlp(self.dim * pack, d_hidden or hidden, 1, d_layers or layers, act=lambda: torch.nn.LeakyReLU(0.2),
                     dropout=dropout, maxout_pieces=maxout_pieces if discriminator == "maxout" else 0)
        if init_std:  # DCGAN's and PacGAN's N(0, std) weights and zero biases, instead of PyTorch's default
            for layer in self.modules():
                if isinstance(layer, torch.nn.Linear):
                    torch.nn.init.normal_(layer.weight, 0.0, init_std)
                    torch.nn.init.zeros_(layer.bias)

    def two_player(self, loss: str, latent: int, critic_steps: int, gp_weight: float, label_smoothing: float,
                   images: bool, pack: int, update: str) -> None:
        """The options every GAN shares, whatever its players; a subclass builds its own G and D after this.
        G maps (n, latent) to (n, *self.d_input), D maps (k, pack x d_input[0], ...) to k logits."""
        if pack < 1 or critic_steps < 1:
            raise ValueError(f"pack and critic_steps must be >= 1, got {pack} and {critic_steps}")
        if update == "simultaneous" and critic_steps != 1:
            raise ValueError(f"update 'simultaneous' takes one discriminator step per generator step, "
                             f"not critic_steps = {critic_steps}")
        self.gan_loss, self.latent, self.critic_steps, self.pack = loss, latent, critic_steps, pack
        self.gp_weight, self.label_smoothing, self.images = gp_weight, label_smoothing, images
        self.simultaneous = update == "simultaneous"
        self.d_input: tuple[int, ...] = (self.dim,)  # MLP players see flat vectors

    def generate(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.latent, generator=generator, device=next(self.G.parameters()).device)
        x = self.G(z)
        return torch.sigmoid(x) if self.images else x  # images live in [0,1]

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """(k*pack, C, ...) -> (k, pack*C, ...): `pack` consecutive rows, all from one source, form one D
        input, concatenated along the first feature axis (a vector's numbers, an image's channels)."""
        k = len(x) // self.pack
        return x[:k * self.pack].reshape(k, self.pack * x.shape[1], *x.shape[2:])

    def configure_training(self, cfg) -> None:
        betas = (cfg.beta1, cfg.beta2)
        # AdamW as every other neural family, so `weight_decay` is decoupled decay everywhere.
        self.opt_d = torch.optim.AdamW(param_groups(self.D, cfg), lr=cfg.lr, betas=betas)
        self.opt_g = torch.optim.AdamW(param_groups(self.G, cfg), lr=cfg.lr, betas=betas)
        self.sched = [torch.optim.lr_scheduler.LambdaLR(o, lr_factor(cfg)) for o in (self.opt_d, self.opt_g)]
        self.grad_clip = cfg.grad_clip

    def optimizers(self) -> list:
        return [self.opt_d, self.opt_g]

    def schedulers(self) -> list:
        return self.sched

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        d_real, d_fake = self.D(real), self.D(fake)
        if self.gan_loss == "nonsaturating":
            target = torch.full_like(d_real, 1.0 - self.label_smoothing)
            return F.binary_cross_entropy_with_logits(d_real, target) + F.softplus(d_fake).mean()
        u = torch.rand(len(real), *[1] * (real.dim() - 1), generator=generator, device=real.device)
        x_hat = (u * real + (1 - u) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        return d_fake.mean() - d_real.mean() + self.gp_weight * penalty

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        d_fake = self.D(fake)
        return F.softplus(-d_fake).mean() if self.gan_loss == "nonsaturating" else -d_fake.mean()

    def _update(self, *players) -> None:
        """(optimizer, loss, parameters) per player: every gradient at the current weights, then the steps."""
        for opt, loss, params in players:
            opt.zero_grad(set_to_none=True)
            loss.backward(inputs=params)
            if self.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        for opt, _, _ in players:
            opt.step()

    def _fake(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.generate(n, generator).reshape(n, *self.d_input)

    def train_step(self, batch, generator):
        self.train()
        d_params, g_params = list(self.D.parameters()), list(self.G.parameters())
        slices = batch.reshape(len(batch), *self.d_input).chunk(self.critic_steps)
        if self.simultaneous:
            fake = self._fake(len(slices[0]), generator)
            loss_d = self.d_loss(self.packed(slices[0]), self.packed(fake.detach()), generator)
            loss_g = self.g_loss(self.packed(fake))
            self._update((self.opt_d, loss_d, d_params), (self.opt_g, loss_g, g_params))
        else:
            for real in slices:
                fake = self._fake(len(real), generator).detach()
                loss_d = self.d_loss(self.packed(real), self.packed(fake), generator)
                self._update((self.opt_d, loss_d, d_params))
            loss_g = self.g_loss(self.packed(self._fake(len(slices[0]), generator)))
            self._update((self.opt_g, loss_g, g_params))
        for s in self.sched:
            s.step()
        return {"loss": loss_g.item(), "loss_d": loss_d.item()}

    # The step in functional form, for seed-batched training (genbench.seed_batch).
    def seed_batching(self) -> str | None:
        if not self.simultaneous:
            return "its alternating update takes each player's step at different weights; update = \"simultaneous\" batches"
        if self.gan_loss != "nonsaturating":
            return f"loss {self.gan_loss!r} takes a gradient inside its loss; \"nonsaturating\" batches"
        if any(isinstance(m, torch.nn.Dropout) for m in self.modules()):
            return "dropout draws from the global generator, not the seed's"
        return None

    def step_noise(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """What `train_step` draws from the generator, in its order: the latents of the simultaneous step."""
        n = len(batch.reshape(len(batch), *self.d_input).chunk(self.critic_steps)[0])
        return {"z": torch.randn(n, self.latent, generator=generator, device=batch.device)}

    def step_objective(self, batch: torch.Tensor, noise: dict[str, torch.Tensor]):
        """L_D with G's samples held fixed plus L_G with D's weights held fixed: the gradient of the sum
        is both players' gradients at the current weights, the simultaneous update of `train_step`."""
        real = batch.reshape(len(batch), *self.d_input).chunk(self.critic_steps)[0]
        x = self.G(noise["z"])
        fake = (torch.sigmoid(x) if self.images else x).reshape(len(x), *self.d_input)
        loss_d = self.d_loss(self.packed(real), self.packed(fake.detach()), None)
        held = {n: t.detach() for n, t in list(self.D.named_parameters()) + list(self.D.named_buffers())}
        d_fake = torch.func.functional_call(self.D, held, (self.packed(fake),))
        loss_g = F.softplus(-d_fake).mean()
        return loss_d + loss_g, {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    @torch.no_grad()
    def sample(self, n, generator):
        self.eval()
        return self.generate(n, generator).reshape(n, *self.data_shape)
