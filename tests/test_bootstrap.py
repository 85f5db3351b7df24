"""`score --bootstrap N`: the image metrics' standard errors over resampled samples. The estimate
tracks the real spread of each metric over independent draws, leaves the values unchanged, is the
same run after run, and is refused where no metric scored takes it."""

import numpy as np
import pytest
import torch

from genbench.metrics import build_metric
from tests.conftest import assert_one_line_error, read_json

D, N_REF, N_GEN = 8, 1000, 300


def gaussian(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64).float() + shift


@pytest.mark.parametrize("name, key", [("fid", "fid"), ("kid", "kid"), ("prc", "precision")])
def test_the_standard_error_tracks_the_spread_over_independent_draws(name, key):
    """One draw's bootstrap standard error against the standard deviation of the metric over 20 fresh
    draws of the samples from the same law (the reference fixed): within a factor of 1.6 either way."""
    ref = {"features": gaussian(N_REF, 0.0, 0)}
    metric = build_metric(name, {"bootstrap": 30})
    spread = np.std([metric.from_features({"features": gaussian(N_GEN, 0.3, s)}, ref)[key] for s in range(1, 21)],
                    ddof=1)
    _, stderr = metric.measure_features({"features": gaussian(N_GEN, 0.3, 99)}, ref)
    assert spread / 1.6 < stderr[key] < spread * 1.6, (stderr[key], spread)


def test_without_bootstrap_there_is_no_standard_error():
    ref, gen = {"features": gaussian(N_REF, 0.0, 0)}, {"features": gaussian(N_GEN, 0.3, 1)}
    values, stderr = build_metric("fid").measure_features(gen, ref)
    assert stderr == {} and values == build_metric("fid", {"bootstrap": 5}).measure_features(gen, ref)[0]


@pytest.fixture
def feature_files(tmp_path):
    np.save(tmp_path / "gen.npy", gaussian(N_GEN, 0.3, 1).numpy())
    np.save(tmp_path / "ref.npy", gaussian(N_REF, 0.0, 0).numpy())
    return tmp_path / "gen.npy", tmp_path / "ref.npy"


def test_cli_features_bootstrap_json_and_summary(cli, tmp_path, feature_files):
    gen, ref = feature_files
    args = ("score", "--features", gen, "--reference-features", ref, "--metrics", "fid,kid", "--quiet")
    assert cli(*args, "--json", tmp_path / "plain.json")[0] == 0
    code, out, err = cli(*args, "--bootstrap", "20", "--json", tmp_path / "b.json")
    assert code == 0, err
    plain, boot = read_json(tmp_path / "plain.json"), read_json(tmp_path / "b.json")
    assert boot["metrics"] == plain["metrics"] and "stderr" not in plain
    assert set(boot["stderr"]) == {"fid@features", "kid@features"} and all(v > 0 for v in boot["stderr"].values())
    assert "20 resamples" in boot["info"]["fid"]["bootstrap"]
    assert f"± {boot['stderr']['fid@features']:.3g} (bootstrap standard error)" in out
    assert cli(*args, "--bootstrap", "20", "--json", tmp_path / "again.json")[0] == 0
    assert read_json(tmp_path / "again.json")["stderr"] == boot["stderr"]  # seeded: the same, run after run


def test_python_keyword_equals_flag(tmp_path, feature_files):
    from genbench.api import score

    gen, ref = feature_files
    out = score(features=str(gen), reference_features=str(ref), metrics="fid", bootstrap=10, quiet=True)
    assert set(out["stderr"]) == {"fid@features"}


def test_too_few_resamples_are_refused(cli, tmp_path, feature_files):
    gen, ref = feature_files
    code, _, err = cli("score", "--features", gen, "--reference-features", ref, "--bootstrap", "1",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "--bootstrap must be at least 2")
    assert not (tmp_path / "o.json").exists()


def test_bootstrap_on_metrics_that_take_none_is_refused(cli, tmp_path):
    from genbench.data import load_dataset

    np.save(tmp_path / "s.npy", load_dataset("ring8").test[:2500].numpy())
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "ring8", "--bootstrap", "10",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "--bootstrap is taken by none of the metrics scored (coverage")
    assert not (tmp_path / "o.json").exists()
