"""Gaussian mixture fitted by expectation-maximisation (Dempster, Laird & Rubin, 1977).

    p(x) = sum_k pi_k N(x | mu_k, Sigma_k)

    E-step:  r_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j)
    M-step:  N_k = sum_n r_nk,   pi_k = N_k / N,   mu_k = sum_n r_nk x_n / N_k,
             Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + eps I

Each iteration never decreases the training log-likelihood, which `train_step` reports for the
parameters it started from. Initialisation: k-means++ centres (Arthur & Vassilvitskii, 2007),
then hard assignment to the nearest centre and one M-step. All arithmetic is in float64 and in
log space (log-sum-exp), so tiny responsibilities neither underflow nor divide by zero.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from genbench.models import GenerativeModel, register_model
from genbench.registry import Count, Natural, NonNegative

LOG_2PI = math.log(2 * math.pi)


@register_model("gmm")
class GaussianMixture(GenerativeModel):
    family = "mixture"
    has_log_prob = True

    def __init__(self, data_shape, components: Count = 10, covariance: Literal["full", "diag"] = "full",
                 reg_covar: NonNegative = 1e-6, tol: NonNegative = 1e-6, kmeans_iters: Natural = 0):
        super().__init__(data_shape, components=components, covariance=covariance,
                         reg_covar=reg_covar, tol=tol, kmeans_iters=kmeans_iters)
        K, D = components, self.dim
        self.K, self.full, self.reg_covar, self.tol, self.kmeans_iters = K, covariance == "full", reg_covar, tol, kmeans_iters
        f64 = torch.float64
        self.register_buffer("log_pi", torch.full((K,), -math.log(K), dtype=f64))
        self.register_buffer("mu", torch.zeros(K, D, dtype=f64))
        self.register_buffer("cov", torch.eye(D, dtype=f64).repeat(K, 1, 1) if self.full else torch.ones(K, D, dtype=f64))
        self._last_ll = -math.inf
        self._converged = False

    # -- the model -----------------------------------------------------------------------------
    def _log_gaussians(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x_n | mu_k, Sigma_k) for every n, k: shape (N, K)."""
        if self.full:
            diff = x[:, None, :] - self.mu[None]  # (N, K, D)
            L = torch.linalg.cholesky(self.cov)  # Sigma = L L^T
            L_inv = torch.linalg.solve_triangular(L, torch.eye(self.dim, dtype=L.dtype, device=L.device).expand_as(L), upper=False)
            z = torch.einsum("ked,nkd->nke", L_inv, diff)  # whitened residuals L^-1 (x - mu)
            half_log_det = torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
            maha = (z * z).sum(-1)
        else:  # sum_d (x_d - mu_d)^2 / var_d expanded into matrix products: no (N, K, D) tensor
            prec = 1 / self.cov
            maha = (x * x) @ prec.T - 2 * x @ (self.mu * prec).T + (self.mu * self.mu * prec).sum(-1)
            half_log_det = 0.5 * torch.log(self.cov).sum(-1)
        return -0.5 * (self.dim * LOG_2PI + maha) - half_log_det

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1).to(device=self.mu.device, dtype=torch.float64)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.log_pi + self._log_gaussians(self._flat(x)), dim=1)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        k = torch.multinomial(self.log_pi.exp(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64, device=self.mu.device)
        if self.full:
            noise = torch.einsum("nde,ne->nd", torch.linalg.cholesky(self.cov)[k], eps)
        else:
            noise = self.cov[k].sqrt() * eps
        return (self.mu[k] + noise).to(torch.float32).reshape(n, *self.data_shape)

    def check_state(self) -> None:
        if not (torch.isfinite(self.mu).all() and torch.isfinite(self.log_pi).all()):
            raise ValueError("means and mixture weights must be finite")
        if abs(torch.logsumexp(self.log_pi, 0).item()) > 1e-6:
            raise ValueError(f"mixture weights sum to {self.log_pi.exp().sum().item():.6g}, not 1")
        finite = torch.isfinite(self.cov).flatten(1).all(1)
        if self.full:
            ok = finite & (torch.linalg.cholesky_ex(self.cov.nan_to_num()).info == 0)
        else:
            ok = finite & (self.cov > 0).all(1)
        if not ok.all():
            k = int((~ok).nonzero()[0])
            raise ValueError(f"the covariance of component {k} is not positive definite")

    # -- EM ------------------------------------------------------------------------------------
    def _m_step(self, x: torch.Tensor, r: torch.Tensor) -> None:
        N_k = r.sum(0) + 10 * torch.finfo(r.dtype).eps  # a dead component keeps a finite mean
        self.log_pi.copy_(torch.log(N_k / N_k.sum()))
        self.mu.copy_(r.T @ x / N_k[:, None])
        if self.full:
            diff = x[:, None, :] - self.mu[None]
            S = torch.einsum("nk,nkd,nke->kde", r, diff, diff) / N_k[:, None, None]
            self.cov.copy_(S + self.reg_covar * torch.eye(self.dim, dtype=S.dtype, device=S.device))
        else:
            # E_r[(x - mu)^2] = E_r[x^2] - mu^2 (float64 keeps the cancellation harmless)
            var = (r.T @ (x * x)) / N_k[:, None] - self.mu * self.mu
            self.cov.copy_(var.clamp_min(0) + self.reg_covar)

    @torch.no_grad()
    def initialize(self, data: torch.Tensor, generator: torch.Generator) -> None:
        x = self._flat(data)
        centres = self._kmeans_pp(x, generator)
        for _ in range(self.kmeans_iters):  # optional Lloyd refinement
            nearest = torch.cdist(x, centres).argmin(1)
            for k in range(self.K):
                if (nearest == k).any():
                    centres[k] = x[nearest == k].mean(0)
        nearest = torch.cdist(x, centres).argmin(1)
        self._m_step(x, torch.nn.functional.one_hot(nearest, self.K).to(x.dtype))
        self._last_ll, self._converged = -math.inf, False

    def _kmeans_pp(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """k-means++: each next centre drawn with probability proportional to D(x)^2."""
        first = torch.randint(len(x), (1,), generator=generator, device=x.device)
        centres = [x[first[0]]]
        d2 = ((x - centres[0]) ** 2).sum(1)
        for _ in range(1, self.K):
            i = torch.multinomial(d2 / d2.sum(), 1, generator=generator)[0] if d2.sum() > 0 else \
                torch.randint(len(x), (1,), generator=generator, device=x.device)[0]
            centres.append(x[i])
            d2 = torch.minimum(d2, ((x - x[i]) ** 2).sum(1))
        return torch.stack(centres)

    @torch.no_grad()
    def train_step(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        x = self._flat(batch)
        log_joint = self.log_pi + self._log_gaussians(x)  # log pi_k N(x_n | .), (N, K)
        log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
        r = torch.exp(log_joint - log_px)  # E-step
        self._m_step(x, r)  # M-step
        ll = log_px.mean().item()
        self._converged = abs(ll - self._last_ll) < self.tol
        self._last_ll = ll
        return {"loss": -ll, "log_likelihood": ll}

    @property
    def converged(self) -> bool:
        return self._converged
