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

PacGAN's own code (fjxmlzn/PacGAN, on Blocks) differs from the plain packing above in three ways a
recipe can ask for: `fake_draws = "per_slot"` draws each pack slot's k fakes in its own G call, so
batch norm's statistics are over k samples whatever the pack (its batch norm then is Blocks': it
normalises by sqrt(biased variance + 1e-4) and tracks the population mean and that standard
deviation as p <- (1 - bn_momentum) p + bn_momentum x the slots' mean statistic); `real_packs =
"resampled"` packs the real data as its code does: one fixed pool of n rows, slot j of row i the
point ids_j[i] of m independent draws with replacement of the n points, and a batch is rows of that
pool (batch_size counts D inputs, not samples); `g_bias = false` drops G's hidden biases, which the
batch norm after them cancels (left in, Adam moves them by rounding noise).

Other players (DCGAN's convolutions, genbench.models.dcgan) come from a subclass: it calls
`two_player` for the shared options and sets `G`, `D` and `d_input`; everything else here is shared.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from genbench.models import register_model
from genbench.models.nets import mlp
from genbench.models.neural import NeuralModel, player_optimizers
from genbench.registry import Count, Fraction, Natural, NonNegative, Proportion


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
                 update: Literal["alternating", "simultaneous"] = "alternating", g_bias: bool = True,
                 bn_momentum: Proportion = 0.1, fake_draws: Literal["joint", "per_slot"] = "joint",
                 real_packs: Literal["consecutive", "resampled"] = "consecutive"):
        super().__init__(data_shape, loss=loss, latent=latent, hidden=hidden, layers=layers, critic_steps=critic_steps,
                         gp_weight=gp_weight, label_smoothing=label_smoothing, images=images, dropout=dropout,
                         batch_norm=batch_norm, pack=pack, g_activation=g_activation, discriminator=discriminator,
                         d_hidden=d_hidden, d_layers=d_layers, maxout_pieces=maxout_pieces, init_std=init_std,
                         update=update, g_bias=g_bias, bn_momentum=bn_momentum, fake_draws=fake_draws,
                         real_packs=real_packs)
        self.two_player(loss, latent, critic_steps, gp_weight, label_smoothing, images, pack, update, fake_draws,
                        real_packs)
        # Batch norm in the generator only, as DCGAN does; a WGAN-GP critic must not have it (the
        # penalty is per example).
        norm = None
        if batch_norm:
            norm = (lambda n: SlotBatchNorm(n, bn_momentum)) if fake_draws == "per_slot" else \
                (lambda n: torch.nn.BatchNorm1d(n, momentum=bn_momentum))
        self.G = mlp(latent, hidden, self.dim, layers, act=torch.nn.ReLU if g_activation == "relu" else torch.nn.SiLU,
                     norm=norm, bias=g_bias)
        self.D = mlp(self.dim * pack, d_hidden or hidden, 1, d_layers or layers, act=lambda: torch.nn.LeakyReLU(0.2),
                     dropout=dropout, maxout_pieces=maxout_pieces if discriminator == "maxout" else 0)
        if init_std:  # DCGAN's and PacGAN's N(0, std) weights and zero biases, instead of PyTorch's default
            for layer in self.modules():
                if isinstance(layer, torch.nn.Linear):
                    torch.nn.init.normal_(layer.weight, 0.0, init_std)
                    if layer.bias is not None:
                        torch.nn.init.zeros_(layer.bias)

    def two_player(self, loss: str, latent: int, critic_steps: int, gp_weight: float, label_smoothing: float,
                   images: bool, pack: int, update: str, fake_draws: str = "joint",
                   real_packs: str = "consecutive") -> None:
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
        self.per_slot, self.resampled = fake_draws == "per_slot", real_packs == "resampled"
        self.d_input: tuple[int, ...] = (self.dim,)  # MLP players see flat vectors

    def generate(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.latent, generator=generator, device=next(self.G.parameters()).device)
        x = self.G(z)
        return torch.sigmoid(x) if self.images else x  # images live in [0,1]

    def training_rows(self, data: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """With `real_packs = "resampled"`, the fixed pool of n real packs PacGAN's code trains on (its
        GaussianPackingMixture): slot j of pack i is point ids_j[i], ids_j drawn with replacement."""
        if not self.resampled:
            return data
        ids = torch.randint(len(data), (self.pack, len(data)), generator=generator, device=generator.device)
        return self.packed(data[ids.T.reshape(-1)])

    def _real(self, rows: torch.Tensor) -> torch.Tensor:
        """A batch slice's real D inputs: already packs when resampled, else `pack` consecutive rows each."""
        return rows if self.resampled else self.packed(rows)

    def _n_fake(self, rows: int) -> int:
        """How many fakes a slice of `rows` batch rows is scored against (as many samples as it holds)."""
        return rows * self.pack if self.resampled else rows

    def _g_train(self, z: torch.Tensor) -> torch.Tensor:
        """G on a step's latents, its rows in packing order. Per slot: slot j of every pack comes from
        the j-th of `pack` separate G calls, so G's batch statistics are over one slot's draws."""
        if not self.per_slot or self.pack == 1:
            return self.G(z)
        k = len(z) // self.pack
        x = self.G(z[:k * self.pack].reshape(self.pack, k, *z.shape[1:]))  # (pack, k, ...) one call per slot
        return x.transpose(0, 1).reshape(k * self.pack, *x.shape[2:])

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """(k*pack, C, ...) -> (k, pack*C, ...): `pack` consecutive rows, all from one source, form one D
        input, concatenated along the first feature axis (a vector's numbers, an image's channels)."""
        k = len(x) // self.pack
        return x[:k * self.pack].reshape(k, self.pack * x.shape[1], *x.shape[2:])

    def configure_training(self, cfg) -> None:
        (self.opt_d, self.opt_g), self.sched = player_optimizers(cfg, [self.D], [self.G])
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
        """n fakes for training, as D sees them before packing."""
        z = torch.randn(n, self.latent, generator=generator, device=next(self.G.parameters()).device)
        return self._from_latents(z)

    def _from_latents(self, z: torch.Tensor) -> torch.Tensor:
        x = self._g_train(z)
        return (torch.sigmoid(x) if self.images else x).reshape(len(x), *self.d_input)

    def _slices(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        shape = (self.pack * self.d_input[0], *self.d_input[1:]) if self.resampled else self.d_input
        return batch.reshape(len(batch), *shape).chunk(self.critic_steps)

    def train_step(self, batch, generator):
        self.train()
        d_params, g_params = list(self.D.parameters()), list(self.G.parameters())
        slices = self._slices(batch)
        if self.simultaneous:
            fake = self._fake(self._n_fake(len(slices[0])), generator)
            loss_d = self.d_loss(self._real(slices[0]), self.packed(fake.detach()), generator)
            loss_g = self.g_loss(self.packed(fake))
            self._update((self.opt_d, loss_d, d_params), (self.opt_g, loss_g, g_params))
        else:
            for real in slices:
                fake = self._fake(self._n_fake(len(real)), generator).detach()
                loss_d = self.d_loss(self._real(real), self.packed(fake), generator)
                self._update((self.opt_d, loss_d, d_params))
            loss_g = self.g_loss(self.packed(self._fake(self._n_fake(len(slices[0])), generator)))
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
        n = self._n_fake(len(self._slices(batch)[0]))
        return {"z": torch.randn(n, self.latent, generator=generator, device=batch.device)}

    def step_objective(self, batch: torch.Tensor, noise: dict[str, torch.Tensor]):
        """L_D with G's samples held fixed plus L_G with D's weights held fixed: the gradient of the sum
        is both players' gradients at the current weights, the simultaneous update of `train_step`."""
        real = self._slices(batch)[0]
        fake = self._from_latents(noise["z"])
        loss_d = self.d_loss(self._real(real), self.packed(fake.detach()), None)
        held = {n: t.detach() for n, t in list(self.D.named_parameters()) + list(self.D.named_buffers())}
        d_fake = torch.func.functional_call(self.D, held, (self.packed(fake),))
        loss_g = F.softplus(-d_fake).mean()
        return loss_d + loss_g, {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    @torch.no_grad()
    def sample(self, n, generator):
        self.eval()
        return self.generate(n, generator).reshape(n, *self.data_shape)


class SlotBatchNorm(torch.nn.Module):
    """Batch norm as Blocks' BatchNormalization, which PacGAN's code uses, over (..., k, features)
    inputs: each leading index (a pack slot's G call) is normalised over its own k rows,
    y = (x - mean) / sqrt(biased var + eps) * weight + bias. Training updates the population mean
    and standard deviation once per forward as p <- (1 - momentum) p + momentum x the calls' mean
    statistic (PacGAN's code averages its m calls' updates); evaluation normalises by them."""

    def __init__(self, features: int, momentum: float = 0.05, eps: float = 1e-4):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = torch.nn.Parameter(torch.ones(features))
        self.bias = torch.nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_std", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return (x - self.running_mean) / self.running_std * self.weight + self.bias
        mean = x.mean(-2, keepdim=True)
        std = ((x - mean).pow(2).mean(-2, keepdim=True) + self.eps).sqrt()
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach().reshape(-1, mean.shape[-1]).mean(0))
            self.running_std.mul_(1 - self.momentum).add_(self.momentum * std.detach().reshape(-1, std.shape[-1]).mean(0))
        return (x - mean) / std * self.weight + self.bias
