"""Denoising diffusion probabilistic models (Ho, Jain & Abbeel, 2020), epsilon-prediction, sampled
ancestrally (DDPM) or by DDIM (Song, Meng & Ermon, 2021), optionally guided by a reference image
(ILVR: Choi, Kim, Jeong, Gwon & Yoon, 2021).

Forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), abar_t = prod_{s<=t} (1 - beta_s),
linear betas. Training ("simple" loss, Algorithm 1):
    t ~ U{0..T-1}, eps ~ N(0, I),  L = || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2
Every sampler starts from x_T ~ N(0, I) and, at each step, predicts
    x0 = (x_t - sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(abar_t),  clipped to [-1, 1] (clip_denoised)
Clipping is what keeps the chain on the data: near t = T, 1 / sqrt(abar_t) ~ 150 multiplies the
network's error, so an unclipped x0 lands far outside the data's range, the next x_t lies where the
network was never trained, and each step drifts further (Ho et al.'s code clips when sampling;
diffusers' `clip_sample`).
  sampler = "ddpm" (Algorithm 2, all T steps): x_{t-1} ~ N(mu_t, beta_t I) with the posterior mean
      mu_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
    (with x0 unclipped this is Algorithm 2's (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)).
  sampler = "ddim" (Song et al. eq. 12, on tau: `sample_steps` timesteps evenly spaced in 0..T-1):
      x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s - sigma^2) eps + sigma z,
      sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s);
    eta = 0 is deterministic given x_T; eta = 1 over all T steps has DDPM's posterior variance.
ILVR (Algorithm 1 of Choi et al.), given a reference y and a downsampling factor N, after each step:
      x_s <- phi_N(y_s) + x_s - phi_N(x_s),  y_s ~ q(y_s | y),
    phi_N the low-pass filter (downsample by N, upsample back): samples keep y's coarse content and
    invent the rest; the larger N, the less of y they keep.
Images are modelled in [-1, 1] (x_0 = 2y - 1) as in the paper; samples are mapped back to [0, 1].
Points have no range to clip to.
With `skip` (the MLP's option), eps_theta(x_t, t) = E_lin[eps | x_t] + F(x_t, t): the least-squares
(linear) estimate of eps from x_t plus a learned residual. For data of mean mu and covariance Sigma,
x_t = a x_0 + s eps (a = sqrt(abar_t), s = sqrt(1 - abar_t)), it is
    E_lin[eps | x_t] = s (a^2 Sigma + s^2 I)^{-1} (x_t - a mu),
the exact denoiser when the data are Gaussian. skip = "isotropic" takes mu = 0, Sigma = sigma_data^2 I,
sigma_data = 0.5 (Karras et al. 2022's skip connection, for images in [-1, 1]): c_t x_t,
c_t = s / (a^2 sigma_data^2 + s^2). Near t = T it is eps ~ x_t, which a narrow MLP on high-dimensional x
otherwise fits poorly (a fashion-mnist MLP fitted eps there with correlation 0.90, and the ancestral chain
grew 86-fold). skip = "gaussian" fits mu and Sigma to the training data (`initialize`) and applies
the matrix through Sigma's eigenbasis. Why it matters on images: the MLP's output W h + b lies in a
space of rank at most `hidden`, and a linear denoiser is the identity where the data do not vary, so on
784 pixels the isotropic skip leaves each pixel the MLP cannot reach denoised as N(0, 0.25) data, which
the chain draws as grey speckle; the data's own Gaussian puts a plain background there.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F

from genbench.models import register_model
from genbench.models.nets import mlp, timestep_embedding
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Natural, Proportion, Range

SIGMA_DATA = 0.5  # the std Karras et al. (2022) assume for images in [-1, 1]
Eta = Annotated[float, Range(0, 1)]  # DDIM's eta: 0 deterministic, 1 DDPM's posterior variance


def low_pass(x: torch.Tensor, factor: int) -> torch.Tensor:
    """phi_N: images downsampled by `factor` (bicubic, antialiased, as ILVR's resizer) and back up."""
    size = x.shape[-2:]
    small = F.interpolate(x, size=[max(1, s // factor) for s in size], mode="bicubic", antialias=True,
                          align_corners=False)
    return F.interpolate(small, size=size, mode="bicubic", align_corners=False)


class Diffusion(NeuralModel):
    """The schedule, the loss and the samplers above for any noise predictor: a subclass writes
    `eps_theta(x_t, t)` on data-shaped x_t."""

    family = "diffusion"
    has_log_prob = False

    def __init__(self, data_shape, timesteps: int, beta_start: float, beta_end: float, sampler: str,
                 sample_steps: int, eta: float, clip_denoised: bool, images: bool, **hparams):
        super().__init__(data_shape, timesteps=timesteps, beta_start=beta_start, beta_end=beta_end, sampler=sampler,
                         sample_steps=sample_steps, eta=eta, clip_denoised=clip_denoised, **hparams)
        if beta_start > beta_end:
            raise ValueError(f"beta_start {beta_start} must be <= beta_end {beta_end}")
        if sample_steps > timesteps:
            raise ValueError(f"sample_steps must be at most timesteps={timesteps}, got {sample_steps}")
        if sampler == "ddpm" and sample_steps not in (0, timesteps):
            raise ValueError(f"sampler 'ddpm' takes all timesteps: sample_steps must be {timesteps} (or 0, "
                             f"meaning all), got {sample_steps} (or use sampler 'ddim')")
        if sampler == "ddpm" and eta != 0:
            raise ValueError(f"eta is the 'ddim' sampler's; sampler 'ddpm' has its own noise (got eta = {eta})")
        if clip_denoised and not images:
            raise ValueError("clip_denoised clips the predicted x_0 to the images' range [-1, 1]; these data are "
                             "not images and have no range: set clip_denoised = false")
        self.T, self.images = timesteps, images
        self.sampler, self.sample_steps = sampler, sample_steps or timesteps
        self.eta, self.clip_denoised = eta, clip_denoised
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

    def abar_at(self, s: int) -> torch.Tensor:
        return self.abar[s] if s >= 0 else torch.ones_like(self.abar[0])  # s = -1 is x_0 itself

    def predict_x0(self, x: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        x0 = (x - (1 - self.abar[t]).sqrt() * eps) / self.abar[t].sqrt()
        return x0.clamp(-1, 1) if self.clip_denoised else x0

    def ancestral_mean(self, x: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        """mu_t, the mean of p(x_{t-1} | x_t): the posterior mean given the predicted x0."""
        abar_t, abar_s = self.abar[t], self.abar_at(t - 1)
        x0 = self.predict_x0(x, t, eps)
        return (abar_s.sqrt() * self.betas[t] * x0 + self.alphas[t].sqrt() * (1 - abar_s) * x) / (1 - abar_t)

    def ddim_step(self, x: torch.Tensor, t: int, s: int, eps: torch.Tensor, eta: float):
        """Mean and standard deviation of x_s given x_t (s < t)."""
        abar_t, abar_s = self.abar[t], self.abar_at(s)
        sigma = eta * ((1 - abar_s) / (1 - abar_t) * (1 - abar_t / abar_s)).sqrt()
        mean = abar_s.sqrt() * self.predict_x0(x, t, eps) + (1 - abar_s - sigma ** 2).clamp(min=0).sqrt() * eps
        return mean, sigma

    def timesteps(self) -> list[int]:
        """The timesteps the sampler visits, from T-1 down to 0 (tau for DDIM)."""
        if self.sampler == "ddpm":
            return list(range(self.T - 1, -1, -1))
        return torch.linspace(0, self.T - 1, self.sample_steps).round().long().unique().flip(0).tolist()

    @torch.no_grad()
    def sample(self, n, generator, reference: torch.Tensor | None = None, ilvr_factor: int = 4):
        """n samples; with a `reference` (images in [0, 1], one or n of them), ILVR-guided by its
        low-pass content at downsampling factor `ilvr_factor`."""
        x_T = torch.randn(n, *self.data_shape, generator=generator, device=self.betas.device)
        return self.denoise(x_T, generator, reference, ilvr_factor)

    @torch.no_grad()
    def denoise(self, x: torch.Tensor, generator: torch.Generator, reference: torch.Tensor | None = None,
                ilvr_factor: int = 4) -> torch.Tensor:
        """The sampler's chain from the given x_T (noise drawn from `generator` only where the sampler or
        ILVR draws it: DDIM with eta = 0 and no reference draws none)."""
        if reference is not None:
            y = self.check_reference(reference, ilvr_factor).to(x.device)
        tau = self.timesteps()
        for t, s in zip(tau, tau[1:] + [-1], strict=True):
            eps = self.eps_theta(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
            if self.sampler == "ddpm":
                mean, sigma = self.ancestral_mean(x, t, eps), self.betas[t].sqrt() if s >= 0 else 0.0
            else:
                mean, sigma = self.ddim_step(x, t, s, eps, self.eta)
            x = mean + sigma * torch.randn(x.shape, generator=generator, device=x.device) if float(sigma) > 0 else mean
            if reference is not None:
                abar_s = self.abar_at(s)
                y_s = abar_s.sqrt() * y + (1 - abar_s).sqrt() * torch.randn(x.shape, generator=generator, device=x.device)
                x = x + low_pass(y_s, ilvr_factor) - low_pass(x, ilvr_factor)
        return (x + 1) / 2 if self.images else x

    def check_reference(self, reference: torch.Tensor, factor: int) -> torch.Tensor:
        """The reference in model space, refused (ValueError) where ILVR cannot take it."""
        if not self.images:
            raise ValueError("ILVR guides samples of images by a reference image; these data are not images")
        if not (isinstance(factor, int) and 1 <= factor <= min(self.data_shape[1:])):
            raise ValueError(f"ilvr_factor must be an integer in [1, {min(self.data_shape[1:])}], got {factor!r}")
        if reference.ndim != 4 or tuple(reference.shape[1:]) != self.data_shape:
            raise ValueError(f"the reference must be images of shape (k, {', '.join(map(str, self.data_shape))}), "
                             f"got {tuple(reference.shape)}")
        return 2 * reference.float() - 1


@register_model("ddpm")
class DDPM(Diffusion):
    """eps_theta an MLP on the flattened x_t and a sinusoidal embedding of t."""

    def __init__(self, data_shape, timesteps: Count = 1000, beta_start: Proportion = 1e-4, beta_end: Proportion = 0.02,
                 hidden: Count = 256, layers: Count = 3, time_dim: Count = 64, images: bool = False,
                 sampler: Literal["ddpm", "ddim"] = "ddpm", sample_steps: Natural = 0, eta: Eta = 0.0,
                 clip_denoised: bool = False,  # off by default: points, which this MLP also models, have no range
                 skip: Literal["none", "isotropic", "gaussian", True, False] = "none"):  # true/false: older names
        if time_dim % 2:
            raise ValueError(f"time_dim {time_dim} must be even (sines and cosines)")
        super().__init__(data_shape, timesteps, beta_start, beta_end, sampler, sample_steps, eta, clip_denoised,
                         images, hidden=hidden, layers=layers, time_dim=time_dim, skip=skip)
        self.skip = skip = {True: "isotropic", False: "none"}.get(skip, skip)
        if skip == "gaussian":  # the data's mean and covariance eigenbasis, set by `initialize`
            self.register_buffer("data_mean", torch.zeros(self.dim))
            self.register_buffer("data_basis", torch.eye(self.dim))
            self.register_buffer("data_var", torch.full((self.dim,), SIGMA_DATA ** 2))
        self.hparams["images"] = images  # taken from the dataset, kept so that a checkpoint rebuilds the same model
        self.time_dim = time_dim
        self.eps_net = mlp(self.dim + time_dim, hidden, self.dim, layers)

    def eps_theta(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        flat = x_t.reshape(len(x_t), -1)
        out = self.eps_net(torch.cat([flat, timestep_embedding(t, self.time_dim)], dim=1)).reshape(x_t.shape)
        abar = self.abar[t].reshape(-1, *[1] * (x_t.ndim - 1))
        if self.skip == "isotropic":
            return (1 - abar).sqrt() / (abar * SIGMA_DATA ** 2 + 1 - abar) * x_t + out
        if self.skip == "none":
            return out
        a, s = abar.reshape(-1, 1).sqrt(), (1 - abar).reshape(-1, 1).sqrt()
        z = (flat - a * self.data_mean) @ self.data_basis  # in Sigma's eigenbasis, where the matrix is diagonal
        return (s * z / (a ** 2 * self.data_var + s ** 2) @ self.data_basis.T).reshape(x_t.shape) + out

    def initialize(self, data: torch.Tensor, generator: torch.Generator) -> None:
        if self.skip != "gaussian":
            return
        x0 = (2 * data - 1 if self.images else data).reshape(len(data), -1).double()
        mean = x0.mean(0)
        var, basis = torch.linalg.eigh((x0 - mean).T @ (x0 - mean) / max(len(x0) - 1, 1))
        self.data_mean.copy_(mean), self.data_var.copy_(var.clamp(min=0)), self.data_basis.copy_(basis)
