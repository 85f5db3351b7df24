"""Speed of EM for the Gaussian mixture, beside scikit-learn's GaussianMixture on the same data
with the same number of EM iterations (the anchor). Run: `tox -e bench` or
`pytest tests/benchmarks --benchmark-only`; compare the two rows of group 'gmm-em'."""

import numpy as np
import pytest
import torch

from genbench.data import load_dataset
from genbench.models import build_model

ITERS = 50


@pytest.fixture(scope="module", params=[("grid25", 25), ("digits", 10)], ids=["grid25-K25", "digits-K10"])
def problem(request):
    name, k = request.param
    ds = load_dataset(name)
    x = ds.continuous(ds.train, torch.Generator().manual_seed(0)).reshape(len(ds.train), -1).double()
    return name, k, x


def genbench_em(x, k):
    model = build_model("gmm", (x.shape[1],), {"components": k, "reg_covar": 1e-4, "tol": 0.0})
    g = torch.Generator().manual_seed(0)
    model.initialize(x, g)
    for _ in range(ITERS):
        model.train_step(x, g)
    return model


def sklearn_em(x, k):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(k, covariance_type="full", reg_covar=1e-4, tol=0.0, max_iter=ITERS,
                           init_params="k-means++", n_init=1, random_state=0).fit(x)


@pytest.mark.benchmark(group="gmm-em")
def test_genbench_gmm(benchmark, problem):
    name, k, x = problem
    model = benchmark(genbench_em, x, k)
    assert np.isfinite(model.log_prob(x).mean().item())


@pytest.mark.benchmark(group="gmm-em")
def test_sklearn_gmm_anchor(benchmark, problem):
    name, k, x = problem
    gm = benchmark(sklearn_em, x.numpy(), k)
    assert np.isfinite(gm.score(x.numpy()))
