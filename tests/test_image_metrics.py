"""Image metrics against known answers, against torch-fidelity itself, and against corruption."""

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.features import load_extractor
from genbench.metrics.density_coverage import density_coverage
from genbench.metrics.fidelity import block_sums, fid, inception_score, kid, precision_recall
from genbench.scoring import evaluate
from tests.conftest import TensorImages


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def gaussian_features(n, d, shift, scale, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64) * scale / d**0.5
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ A + shift


def test_fid_equals_the_closed_form_computed_with_scipy():
    a, b = gaussian_features(3000, 16, 0.0, 1.0, 0), gaussian_features(2500, 16, 0.7, 2.0, 1)
    mu1, mu2 = a.mean(0).numpy(), b.mean(0).numpy()
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert fid(a, b) == pytest.approx(expected, rel=1e-4)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_refuses_fewer_samples_than_dimensions():
    with pytest.raises(GenbenchError, match="more samples than feature dimensions"):
        fid(gaussian_features(100, 128, 0, 1, 0), gaussian_features(1000, 128, 0, 1, 1))


def test_kid_subset_larger_than_samples_is_refused():
    both = gaussian_features(550, 8, 0, 1, 0)
    a, b = both[:50], both[50:]
    shifted = kid(a + 1.0, b)
    assert abs(kid(a, b)) < 0.1 * shifted  # same distribution: the unbiased MMD^2 is near 0
    with pytest.raises(GenbenchError, match="subset size 100 is larger than the sample count"):
        kid(a, b, subset_size=100)


@pytest.mark.parametrize("whole_kernels", [True, False])
def test_kid_equals_torch_fidelity_in_float64(monkeypatch, whole_kernels):
    from torch_fidelity.metric_kid import kid_features_to_metric

    import genbench.metrics.fidelity as fidelity

    if not whole_kernels:  # every subset's kernels computed on their own, as on large sets
        monkeypatch.setattr(fidelity, "KID_KERNEL_ENTRIES", 0)
    used = []
    monkeypatch.setattr(fidelity, "block_sums", lambda *args: used.append(1) or block_sums(*args))
    a, b = gaussian_features(300, 64, 0.0, 1.0, 0), gaussian_features(500, 64, 0.2, 1.3, 1)
    theirs = kid_features_to_metric(a, b, kid_subsets=100, kid_subset_size=200, kid_kernel="poly",
                                    kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                                    rng_seed=2020, verbose=False)["kernel_inception_distance_mean"]
    assert kid(a, b, subset_size=200) == pytest.approx(theirs, rel=1e-10)
    assert bool(used) == whole_kernels


@pytest.mark.parametrize("k", [2, 5, 10])
def test_is_of_confident_uniform_predictions_is_k(k):
    logits = torch.full((100 * k, k), -50.0)
    logits[torch.arange(100 * k), torch.arange(100 * k) % k] = 50.0
    assert inception_score(logits, splits=1) == pytest.approx(k, rel=1e-9)


def test_is_equals_exp_mean_kl_by_hand():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(400, 7, generator=g, dtype=torch.float64) * 2, 1)
    marginal = p.mean(0)
    by_hand = torch.exp((p * (p.log() - marginal.log())).sum(1).mean()).item()
    assert inception_score(p.log(), splits=1) == pytest.approx(by_hand, rel=1e-12)
    uniform = torch.zeros(400, 7)  # every p(y|x) uniform: no information, IS = 1
    assert inception_score(uniform, splits=1) == pytest.approx(1.0)


def test_density_coverage_of_identical_sets_and_of_far_samples():
    both = gaussian_features(8000, 4, 0, 1, 0).float()
    real, fresh = both[:4000], both[4000:]
    d, c = density_coverage(real, real)  # each ball holds its centre and, typically, its k neighbours
    assert c == 1.0 and d == pytest.approx(6 / 5, abs=0.03)
    d, c = density_coverage(fresh, real)  # a fresh sample of the same law: E[density] = 1
    assert d == pytest.approx(1.0, abs=0.05) and c > 0.95
    d, c = density_coverage(real + 100, real)
    assert c == 0.0 and d == 0.0


def test_values_match_a_bare_torch_fidelity_call(digits):
    import torch_fidelity

    samples = digits.reference("test")
    ours = evaluate(digits, ["is", "fid", "kid", "prc"], samples=samples, progress=False,
                    options={"kid_subset_size": 300})["metrics"]
    theirs = torch_fidelity.calculate_metrics(
        input1=TensorImages(samples), input2=TensorImages(digits.reference("train")), feature_extractor="digits-cnn",
        cuda=False, save_cpu_ram=True, isc=True, fid=True, kid=True, prc=True, kid_subset_size=300,
        verbose=False, cache=False)
    assert ours["is@digits-cnn"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["fid@digits-cnn"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours["kid@digits-cnn"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["precision@digits-cnn"] == pytest.approx(theirs["precision"], abs=1e-9)
    assert ours["recall@digits-cnn"] == pytest.approx(theirs["recall"], abs=1e-9)


def scores(ds, samples):
    return evaluate(ds, ["fid", "prc", "density-coverage"], samples=samples, progress=False)["metrics"]


def blur(x, sigma):
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-r**2 / (2 * sigma**2))
    k = (k / k.sum())
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))


def test_real_held_out_images_score_well_and_corruption_monotonically_worse(digits):
    real = digits.reference("test")
    clean = scores(digits, real)
    assert clean["fid@digits-cnn"] < 15 and clean["recall@digits-cnn"] > 0.85 and clean["precision@digits-cnn"] > 0.85
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(real.shape, generator=g)
    ladders = {
        "blur": [scores(digits, blur(real, s)) for s in (0.6, 1.0, 1.6)],
        "noise": [scores(digits, (real + s * noise).clamp(0, 1)) for s in (0.15, 0.3, 0.6)],
    }
    labels = digits.labels["test"]
    collapsed = []
    for k in (5, 2, 1):  # keep only k classes: mode collapse of growing severity
        pool = real[labels < k]
        collapsed.append(scores(digits, pool[torch.randint(len(pool), (len(real),), generator=g)]))
    ladders["classes"] = collapsed
    for name, ladder in ladders.items():
        fids = [clean["fid@digits-cnn"]] + [s["fid@digits-cnn"] for s in ladder]
        assert fids == sorted(fids) and fids[-1] > 5 * fids[0], (name, fids)
        for key in ("recall@digits-cnn", "coverage@digits-cnn"):
            values = [clean[key]] + [s[key] for s in ladder]
            assert values == sorted(values, reverse=True) and values[-1] < values[0], (name, key, values)


def test_is_of_real_digits_is_close_to_ten(digits):
    is_train = evaluate(digits, ["is"], samples=digits.reference("train"), progress=False)["metrics"]["is@digits-cnn"]
    assert 9.0 < is_train <= 10.0


def test_domain_classifiers_meet_their_accuracy_targets(digits):
    import json

    from genbench.features.classifier import weights_paths

    assert json.loads(weights_paths("digits")[1].read_text())["test_accuracy"] >= 0.97
    assert json.loads(weights_paths("fashion-mnist")[1].read_text())["test_accuracy"] >= 0.90
    net = load_extractor("digits-cnn").module.net  # and the committed weights really are that good
    acc = (net(digits.reference("test")).argmax(1) == digits.labels["test"]).float().mean().item()
    assert acc >= 0.97


def fashion_available():
    from genbench.data import DATASETS
    from genbench.errors import GenbenchError

    try:
        DATASETS.get("fashion-mnist")()
        return True
    except GenbenchError:
        return False


@pytest.mark.skipif(not fashion_available(), reason="Fashion-MNIST files not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_classifier_on_the_real_test_set():
    ds = load_dataset("fashion-mnist")
    net = load_extractor("fashion-cnn").module.net
    with torch.no_grad():
        pred = torch.cat([net(x).argmax(1) for x in ds.reference("test").split(2000)])
    assert (pred == ds.labels["test"]).float().mean().item() >= 0.90


@pytest.mark.slow
def test_stacked_digits_mode_coverage():
    ds = load_dataset("stacked-digits")
    real = evaluate(ds, ["coverage"], samples=ds.reference("test"), progress=False)["metrics"]
    assert real["modes"] >= 950 and real["reverse_kl"] < 0.1
    fixed = ds.reference("test")[:10].repeat(260, 1, 1, 1)
    collapsed = evaluate(ds, ["coverage"], samples=fixed, n_samples=len(fixed), progress=False)["metrics"]
    assert collapsed["modes"] <= 10 and collapsed["reverse_kl"] > np.log(1000) - np.log(10) - 0.1


def test_second_scoring_hits_the_reference_cache(digits, tmp_path, monkeypatch):
    from genbench.features import cache

    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    before = (cache.STATS.hits, cache.STATS.misses)
    evaluate(digits, ["fid"], samples=digits.reference("test"), progress=False)
    assert (cache.STATS.hits, cache.STATS.misses) == (before[0], before[1] + 1)
    assert len(list((tmp_path / "features").glob("digits-train-*-digits-cnn-*.safetensors"))) == 1
    evaluate(digits, ["fid", "kid"], samples=digits.reference("test")[:300], progress=False)
    assert (cache.STATS.hits, cache.STATS.misses) == (before[0] + 2, before[1] + 1)


def test_other_images_under_the_same_name_never_meet_cached_features(digits, tmp_path, monkeypatch):
    """The cache once served features of other images under the same dataset name and parameters
    (an older loader's copy), so every FID against that data was wrong: the key holds the contents."""
    import dataclasses

    from genbench.features import cache

    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    samples = digits.reference("test")
    honest = evaluate(digits, ["fid"], samples=samples, progress=False)["metrics"]
    other = dataclasses.replace(digits, train=digits.train.flip(-1))  # same name, params and shape
    before = cache.STATS.misses
    shifted = evaluate(other, ["fid"], samples=samples, progress=False)["metrics"]
    assert cache.STATS.misses == before + 1 and shifted != honest
    assert len(list((tmp_path / "features").glob("digits-train-*.safetensors"))) == 2
    assert evaluate(digits, ["fid"], samples=samples, progress=False)["metrics"] == honest


def test_precision_recall_is_asymmetric_as_defined():
    real = gaussian_features(600, 4, 0, 1, 0).float()
    narrow = real[:, :] * 0.3  # samples inside the real support, covering only its centre
    p, r = precision_recall(narrow, real)
    assert p > 0.9 and r < 0.6
