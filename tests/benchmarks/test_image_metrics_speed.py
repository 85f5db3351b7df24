"""Scoring speed on digits (IS, FID, KID, precision/recall with the domain extractor): genbench
with a cold and a warm reference cache, beside a bare torch_fidelity.calculate_metrics call on the
same inputs in the same run (the anchor). Compare the rows of group 'image-metrics'."""

import pytest

from genbench.data import load_dataset
from genbench.features import load_extractor
from genbench.scoring import evaluate
from tests.conftest import TensorImages

METRICS = ["is", "fid", "kid", "prc"]


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits")
    load_extractor("digits-cnn")  # load weights once, outside the timings
    return ds


def genbench_score(ds, samples):
    return evaluate(ds, METRICS, samples=samples, progress=False, options={"kid_subset_size": 300})["metrics"]


@pytest.mark.benchmark(group="image-metrics")
def test_torch_fidelity_anchor(benchmark, digits):
    import torch_fidelity

    samples, reference = digits.reference("test"), digits.reference("train")
    out = benchmark(lambda: torch_fidelity.calculate_metrics(
        input1=TensorImages(samples), input2=TensorImages(reference), feature_extractor="digits-cnn", cuda=False,
        save_cpu_ram=True, isc=True, fid=True, kid=True, prc=True, kid_subset_size=300, verbose=False, cache=False))
    assert out["frechet_inception_distance"] > 0


@pytest.mark.benchmark(group="image-metrics")
def test_genbench_cold_cache(benchmark, digits, tmp_path, monkeypatch):
    rounds = iter(range(10**6))

    def setup():
        monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / str(next(rounds))))  # empty cache every round
        return (digits, digits.reference("test").clone()), {}  # a new tensor: no memoised features either

    out = benchmark.pedantic(genbench_score, setup=setup, rounds=5)
    assert out["fid@digits-cnn"] > 0


@pytest.mark.benchmark(group="image-metrics")
def test_genbench_warm_cache(benchmark, digits, tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    genbench_score(digits, digits.reference("test"))  # fills the cache

    def setup():
        return (digits, digits.reference("test").clone()), {}

    out = benchmark.pedantic(genbench_score, setup=setup, rounds=5)
    assert out["fid@digits-cnn"] > 0
