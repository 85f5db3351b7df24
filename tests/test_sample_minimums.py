"""Too few samples, or features too large to square, are refused with the reason and the minimum,
instead of a traceback or a number that means nothing (a negative KID, 1 of 25 modes "covered")."""

import numpy as np
import pytest
import torch

from genbench.data import load_dataset
from genbench.errors import GenbenchError
from genbench.metrics.density_coverage import density_coverage
from genbench.metrics.fidelity import MIN_ROWS, fid, kid, precision_recall
from genbench.scoring import evaluate
from tests.conftest import assert_one_line_error, read_json


def features(tmp_path, n_gen, n_ref=700, d=12, scale=1.0):
    g = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", g.normal(size=(n_gen, d)) * scale)
    np.save(tmp_path / "b.npy", g.normal(0.5, 1.0, size=(n_ref, d)) * scale)
    return ["score", "--features", tmp_path / "a.npy", "--reference-features", tmp_path / "b.npy",
            "--json", tmp_path / "o.json"]


@pytest.mark.parametrize("metric", ["kid", "prc", "density-coverage"])
@pytest.mark.parametrize("rows", [2, 10, MIN_ROWS - 1])
def test_feature_metrics_refuse_too_few_rows(cli, tmp_path, metric, rows):
    code, _, err = cli(*features(tmp_path, rows, d=3), "--metrics", metric)
    assert_one_line_error(code, err, f"{metric}: {rows} samples", "at least 50 on each side")
    assert not (tmp_path / "o.json").exists()


def test_too_few_reference_rows_are_refused_too():
    a, b = torch.randn(600, 3, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    for call in (kid, precision_recall, density_coverage):
        with pytest.raises(GenbenchError, match="10 reference"):
            call(a, b)


def test_feature_metrics_at_the_minimum_are_computed(cli, tmp_path):
    code, _, err = cli(*features(tmp_path, MIN_ROWS, d=3), "--metrics", "kid,prc,density-coverage")
    assert code == 0, err
    assert set(read_json(tmp_path / "o.json")["metrics"]) == {
        "kid@features", "precision@features", "recall@features", "density@features", "coverage@features"}


def test_kid_subset_below_the_minimum_is_refused_before_any_work(cli, tmp_path):
    code, _, err = cli(*features(tmp_path, 600), "--metrics", "kid", "--kid-subset-size", 10)
    assert_one_line_error(code, err, "--kid-subset-size must be at least 50")


def test_huge_feature_values_are_refused(cli, tmp_path):
    code, _, err = cli(*features(tmp_path, 600, scale=1e200))
    assert_one_line_error(code, err, "feature values reach", "rescale")
    assert "LinAlgError" not in err and not (tmp_path / "o.json").exists()


def test_large_but_safe_feature_values_are_scored_exactly():
    """The limit is not needlessly tight: at 2^40 (1.1e12; a power of two scales exactly) FID is its value
    at scale 1 times 2^80, and precision/recall, scale-free, are unchanged."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 12, generator=g, dtype=torch.float64), torch.randn(700, 12, generator=g, dtype=torch.float64)
    s = 2.0**40
    assert fid(a * s, b * s) == pytest.approx(fid(a, b) * s**2, rel=1e-6)
    assert precision_recall(a * s, b * s) == precision_recall(a, b)


def test_coverage_on_fewer_samples_than_the_protocol(cli, tmp_path):
    ring = load_dataset("ring8").test.numpy()  # 2500 points: the PacGAN protocol's count
    np.save(tmp_path / "few.npy", ring[:100])
    base = ["score", "--samples", tmp_path / "few.npy", "--dataset", "ring8", "--json", tmp_path / "o.json"]
    code, _, err = cli(*base)
    assert_one_line_error(code, err, "coverage: 100 samples", "protocol scores 2500", "--n-samples 100")
    assert not (tmp_path / "o.json").exists()
    code, _, err = cli(*base, "--n-samples", 100)  # asked for on purpose: scored
    assert code == 0, err
    doc = read_json(tmp_path / "o.json")
    assert doc["n_samples"] == 100 and doc["metrics"]["modes"] == 8
    code, _, err = cli(*base, "--n-samples", 40)  # the first 40 of the file
    assert code == 0 and read_json(tmp_path / "o.json")["n_samples"] == 40
    (tmp_path / "o.json").unlink()
    code, _, err = cli(*base, "--n-samples", 101)
    assert_one_line_error(code, err, "--n-samples 101", "100 samples")
    assert not (tmp_path / "o.json").exists()


def test_a_model_scored_on_fewer_samples_on_purpose_keeps_working():
    """A recipe's `samples` (stacked-digits scores 5,000 of the protocol's 26,000) is a choice, not an error."""

    class Ring:  # samples the dataset's own points: a perfect model
        has_log_prob = False

        def sample(self, n, generator):
            return ds.test[torch.randint(len(ds.test), (n,), generator=generator)]

    ds = load_dataset("ring8")
    out = evaluate(ds, ["coverage"], model=Ring(), n_samples=300, generator=torch.Generator().manual_seed(0),
                   progress=False)
    assert out["n_samples"] == 300 and out["metrics"]["modes"] == 8
