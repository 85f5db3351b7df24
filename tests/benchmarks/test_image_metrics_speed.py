"""Scoring speed (IS, FID, KID, precision/recall with the dataset's domain extractor): genbench with a
cold and a warm reference cache, beside a bare torch_fidelity.calculate_metrics call that extracts both
sides, on the same inputs in the same run (the anchor). Compare the rows of group
'image-metrics-digits' (359 samples, 1438 reference images) and of 'image-metrics-fashion-mnist'
(10,000 samples, 60,000 reference images; skipped where its files are not installed, one round each:
a round takes minutes)."""

import pytest

from genbench.data import load_dataset
from genbench.features import load_extractor
from genbench.scoring import evaluate
from tests.conftest import TensorImages
from tests.stand_ins import skip_unless_present

METRICS = ["is", "fid", "kid", "prc"]
CASES = {  # dataset: (extractor, options, rounds)
    "digits": ("digits-cnn", {"kid_subset_size": 300}, 5),
    "fashion-mnist": ("fashion-cnn", {}, 1),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    name = request.param
    skip_unless_present(name)
    extractor, options, rounds = CASES[name]
    ds = load_dataset(name)
    load_extractor(extractor)  # load weights once, outside the timings
    return ds, extractor, options, rounds


def genbench_score(ds, samples, options):
    return evaluate(ds, METRICS, samples=samples, progress=False, options=options)["metrics"]


def test_torch_fidelity_anchor(benchmark, case):
    import torch_fidelity

    ds, extractor, options, rounds = case
    benchmark.group = f"image-metrics-{ds.name}"
    samples, reference = ds.reference("test"), ds.reference("train")
    out = benchmark.pedantic(lambda: torch_fidelity.calculate_metrics(
        input1=TensorImages(samples), input2=TensorImages(reference), feature_extractor=extractor, cuda=False,
        save_cpu_ram=True, isc=True, fid=True, kid=True, prc=True, verbose=False, cache=False, **options),
        rounds=rounds)
    assert out["frechet_inception_distance"] > 0


def test_genbench_cold_cache(benchmark, case, tmp_path, monkeypatch):
    ds, extractor, options, rounds = case
    benchmark.group = f"image-metrics-{ds.name}"
    fresh = iter(range(10**6))

    def setup():
        monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / str(next(fresh))))  # empty cache every round
        return (ds, ds.reference("test").clone(), options), {}  # a new tensor: no memoised features either

    out = benchmark.pedantic(genbench_score, setup=setup, rounds=rounds)
    assert out[f"fid@{extractor}"] > 0


def test_genbench_warm_cache(benchmark, case, tmp_path, monkeypatch):
    ds, extractor, options, rounds = case
    benchmark.group = f"image-metrics-{ds.name}"
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    genbench_score(ds, ds.reference("test"), options)  # fills the cache

    def setup():
        return (ds, ds.reference("test").clone(), options), {}

    out = benchmark.pedantic(genbench_score, setup=setup, rounds=rounds)
    assert out[f"fid@{extractor}"] > 0
