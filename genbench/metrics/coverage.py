"""Mode coverage on data whose modes are known.

Modes given by centres (ring8, grid25; the PacGAN protocol, Lin et al. 2018, Sec. 5.1): 2500
samples; each goes to its nearest mode by std-normalised distance ||x - m_k|| / sigma and is high
quality when that distance is below 3. Reported: modes covered (at least one high-quality
sample), the high-quality fraction, and the reverse KL  KL(q || uniform) = sum_k q_k log(K q_k)
of the histogram q of high-quality samples over modes. The two counts are VEEGAN's (Srivastava et al.
2017, Sec. 5.1: high quality "within three standard deviations of the nearest mode"; modes captured,
"the number of mixture components whose mean is nearest to at least one high quality sample"), which
PacGAN took over: one definition for both papers' tables. With no high-quality sample at all,
reverse KL is reported as log K, its value for a model collapsed onto a single mode.

Modes given by labels (stacked digits; the Stacked-MNIST protocol of VEEGAN and PacGAN): 26,000
samples, each channel classified by the digits classifier, the triple of digits is the mode;
modes covered out of 1000 and KL(generated mode histogram || uniform) over all samples.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genbench.data import Dataset
from genbench.features import features_of, load_extractor
from genbench.metrics import Metric, Output, register_metric

THRESHOLD = 3.0
STACKED_SAMPLES = 26000


def classified_modes(samples: torch.Tensor, reference: Dataset, baselines: str | Path | None = None,
                     batch_size: int | None = None) -> dict[str, float]:
    logits = features_of(samples, load_extractor(reference.mode_classifier, baselines=baselines), batch_size)["logits"]
    counts = torch.bincount(logits.argmax(1), minlength=reference.n_modes)
    return {"modes": int((counts > 0).sum()), "reverse_kl": reverse_kl_to_uniform(counts)}


def mode_histogram(samples: torch.Tensor, modes: torch.Tensor, std: float) -> tuple[torch.Tensor, int]:
    """High-quality sample count per mode, and the number of samples that were high quality."""
    x = samples.reshape(len(samples), -1).double()
    d = torch.cdist(x, modes.reshape(len(modes), -1).double()) / std
    nearest_d, nearest = d.min(dim=1)
    hq = nearest_d < THRESHOLD
    counts = torch.bincount(nearest[hq], minlength=len(modes))
    return counts, int(hq.sum())


def reverse_kl_to_uniform(counts: torch.Tensor) -> float:
    K, total = len(counts), counts.sum().item()
    if total == 0:
        return math.log(K)
    q = counts[counts > 0].double() / total
    return float((q * torch.log(K * q)).sum())


@register_metric
class ModeCoverage(Metric):
    name = "coverage"
    n_samples = 2500
    count_sensitive = True  # 100 samples cannot show 1000 modes; a recipe may still ask for fewer
    outputs = (
        Output("modes", "higher", "modes with at least one high-quality sample (published, PacGAN Tables 1-2: "
                                  "GAN 6.3/8 ring, 17.3/25 grid; DCGAN 99/1000 Stacked-MNIST)", 0.25, unit="modes (a count, out of the dataset's known modes)"),
        Output("hq_fraction", "higher", "fraction of samples within 3 std of a mode", 0.01, unit="fraction of samples, 0-1", scale=1, scale_note="PacGAN prints it as a percent"),
        Output("reverse_kl", "lower", "KL(high-quality mode histogram || uniform), nats", 0.02, unit="nats"),
    )

    def __init__(self, baselines: str | Path | None = None, batch_size: int | None = None):
        self.baselines = baselines  # where a mode classifier's weights are (stacked digits)
        self.batch_size = batch_size  # images per forward pass of that classifier (speed and memory only)

    def applies(self, dataset: Dataset) -> str | None:
        if dataset.modes is None and dataset.mode_classifier is None:
            return f"dataset {dataset.name!r} has no known modes"
        return None

    def prepare(self, dataset: Dataset) -> None:
        if dataset.modes is None:
            load_extractor(dataset.mode_classifier, baselines=self.baselines)

    def samples_needed(self, dataset: Dataset) -> int:
        return STACKED_SAMPLES if dataset.modes is None else self.n_samples

    def info(self, samples, reference: Dataset, model=None) -> dict[str, int]:
        # How many modes there are, so a report can say "covered m of K".
        return {"n_modes": int(reference.n_modes)}

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        if reference.modes is None:
            return classified_modes(samples, reference, self.baselines, self.batch_size)
        counts, n_hq = mode_histogram(samples, reference.modes, reference.mode_std)
        return {
            "modes": int((counts > 0).sum()),
            "hq_fraction": n_hq / len(samples),
            "reverse_kl": reverse_kl_to_uniform(counts),
        }
