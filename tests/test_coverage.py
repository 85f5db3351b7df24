"""Mode coverage (PacGAN protocol) on cases with known answers."""

import math

import pytest
import torch

from genbench.data import load_dataset
from genbench.metrics.coverage import ModeCoverage, mode_histogram, reverse_kl_to_uniform

cov = ModeCoverage()


def test_real_data_covers_every_mode_uniformly():
    ds = load_dataset("grid25")
    out = cov.compute(ds.test, ds)
    assert out["modes"] == 25
    assert out["hq_fraction"] > 0.98  # 3-std disc holds 1 - exp(-4.5) = 98.9% of a 2-D Gaussian
    assert out["reverse_kl"] < 0.02


def test_samples_at_one_mode_are_collapsed():
    ds = load_dataset("ring8")
    samples = ds.modes[3].expand(500, 2).clone()
    out = cov.compute(samples, ds)
    assert out == {"modes": 1, "hq_fraction": 1.0, "reverse_kl": pytest.approx(math.log(8))}


def test_far_away_samples_are_not_high_quality():
    ds = load_dataset("grid25")
    samples = torch.full((100, 2), 1.0)  # between modes: distance sqrt(2)/0.05 = 28 std
    out = cov.compute(samples, ds)
    assert out["modes"] == 0 and out["hq_fraction"] == 0.0
    assert out["reverse_kl"] == pytest.approx(math.log(25))


def test_threshold_is_three_standard_deviations():
    ds = load_dataset("ring8")
    inside = ds.modes[0] + torch.tensor([2.99 * 0.01, 0.0])
    outside = ds.modes[1] + torch.tensor([0.0, 3.01 * 0.01])
    counts, n_hq = mode_histogram(torch.stack([inside, outside]), ds.modes, ds.mode_std)
    assert n_hq == 1 and counts[0] == 1 and counts.sum() == 1


def test_reverse_kl_by_hand():
    # q = (1/2, 1/4, 1/4, 0) against uniform over 4: sum q log(4 q)
    counts = torch.tensor([2, 1, 1, 0])
    expected = 0.5 * math.log(2) + 2 * 0.25 * math.log(1.0)
    assert reverse_kl_to_uniform(counts) == pytest.approx(expected)


def test_does_not_apply_without_known_modes():
    assert "no known modes" in cov.applies(load_dataset("digits"))
    assert cov.applies(load_dataset("ring8")) is None
