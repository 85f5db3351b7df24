"""The Gaussian mixture: EM's guarantees, exact likelihoods, and recovery of known modes."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from genbench.data import Dataset, load_dataset
from genbench.metrics.likelihood import NegativeLogLikelihood
from genbench.models import build_model
from genbench.training import TrainConfig, fit


def em_trace(model, x, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    model.initialize(x, g)
    return [model.train_step(x, g)["log_likelihood"] for _ in range(steps)]


@pytest.mark.parametrize("dataset, components, covariance", [
    ("grid25", 25, "full"), ("grid25", 6, "full"), ("grid25", 6, "diag"), ("ring8", 3, "full"),
])
def test_em_never_decreases_training_log_likelihood(dataset, components, covariance):
    x = load_dataset(dataset).train
    model = build_model("gmm", (2,), {"components": components, "covariance": covariance, "reg_covar": 0.0})
    ll = np.array(em_trace(model, x, 60))
    assert np.all(np.isfinite(ll))
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]).clip(min=1)), np.diff(ll).min()
    if components != 25:
        assert ll[-1] > ll[0] + 1e-3  # from a misspecified start, EM has real work to do


def test_em_monotone_on_high_dimensional_images():
    ds = load_dataset("digits")
    x = ds.continuous(ds.train, torch.Generator().manual_seed(0))  # one fixed dequantization
    model = build_model("gmm", ds.shape, {"components": 5, "reg_covar": 1e-4})
    ll = np.array(em_trace(model, x, 30))
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))


def test_log_prob_matches_scipy_mixture_density():
    model = build_model("gmm", (2,), {"components": 3})
    model.initialize(load_dataset("grid25").train, torch.Generator().manual_seed(1))
    x = torch.randn(50, 2) * 3
    pi = model.log_pi.exp().numpy()
    dens = sum(pi[k] * multivariate_normal(model.mu[k].numpy(), model.cov[k].numpy()).pdf(x.numpy()) for k in range(3))
    np.testing.assert_allclose(model.log_prob(x).numpy(), np.log(dens), rtol=1e-10)


def gaussian_dataset(mean, cov, n=20000, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = torch.linalg.cholesky(cov)
    draw = lambda m: mean + torch.randn(m, len(mean), generator=g, dtype=torch.float64) @ L.T  # noqa: E731
    return Dataset(name="gauss", kind="points", train=draw(n).float(), test=draw(n).float())


def test_nll_of_a_gaussian_equals_the_closed_form():
    mean = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    A = torch.tensor([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.1, 0.0, 2.0]], dtype=torch.float64)
    cov = A @ A.T
    ds = gaussian_dataset(mean, cov)
    model = build_model("gmm", (3,), {"components": 1, "reg_covar": 0.0})
    model.mu.copy_(mean[None])
    model.cov.copy_(cov[None])
    nll = NegativeLogLikelihood().compute(None, ds, model)["nll"]
    exact = -multivariate_normal(mean.numpy(), cov.numpy()).logpdf(ds.test.double().numpy()).mean()
    assert nll == pytest.approx(exact, rel=1e-6)
    # ... and, in expectation, the Gaussian's differential entropy 0.5 log det(2 pi e Sigma)
    entropy = 0.5 * math.log(torch.linalg.det(2 * math.pi * math.e * cov).item())
    assert nll == pytest.approx(entropy, abs=4 * math.sqrt(3 / 2 / len(ds.test)))


def test_em_fit_of_one_gaussian_is_the_sample_mle():
    mean = torch.tensor([0.0, 3.0], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
    ds = gaussian_dataset(mean, cov, n=5000)
    model = build_model("gmm", (2,), {"components": 1, "reg_covar": 0.0})
    fit(model, ds, TrainConfig(steps=5), torch.Generator().manual_seed(0), progress=False)
    x = ds.train.double()
    np.testing.assert_allclose(model.mu[0].numpy(), x.mean(0).numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.cov[0].numpy(), np.cov(x.numpy().T, bias=True), rtol=1e-9)


class Uniform(torch.nn.Module):
    """log p = 0 on [0,1]^D: the reference whose bits/dim is exactly log2(levels)."""

    has_log_prob = True

    def log_prob(self, x):
        return torch.zeros(len(x))


def test_bits_per_dim_of_a_uniform_model_is_log2_levels():
    ds = load_dataset("digits")
    out = NegativeLogLikelihood().compute(None, ds, Uniform())
    assert out["bpd"] == pytest.approx(math.log2(17), rel=1e-12)
    assert out["nll"] == pytest.approx(64 * math.log(17), rel=1e-12)


def test_gmm_on_digits_beats_the_uniform_model():
    ds = load_dataset("digits")
    model = build_model("gmm", ds.shape, {"components": 5, "reg_covar": 1e-4})
    fit(model, ds, TrainConfig(steps=20), torch.Generator().manual_seed(0), progress=False)
    assert NegativeLogLikelihood().compute(None, ds, model)["bpd"] < math.log2(17) - 0.5


def test_sampling_is_determined_by_the_generator():
    model = build_model("gmm", (2,), {"components": 4})
    model.initialize(load_dataset("ring8").train, torch.Generator().manual_seed(0))
    a = model.sample(100, torch.Generator().manual_seed(5))
    b = model.sample(100, torch.Generator().manual_seed(5))
    c = model.sample(100, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (100, 2) and a.dtype == torch.float32
