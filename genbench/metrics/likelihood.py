"""Held-out negative log-likelihood, in nats per example and, for discrete data, bits per dimension.

For continuous data the NLL is -mean log p(x_test). For discrete data (images with L levels),
the model's density on [0,1]^D is turned into a bound on the discrete likelihood by uniform
dequantization:  -log P(x) <= -log p((x+u)/L) + D log L,  u ~ U[0,1)^D  (one fixed draw, so the
number is reproducible), and bits/dim = NLL / (D ln 2). A uniform model scores log2(L) bits/dim.
"""

from __future__ import annotations

import math

import torch

from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric

BATCH = 4096
DEQUANT_SEED = 1234  # fixed, so that test NLL does not depend on the run's seed


def held_out_log_prob(model, reference: Dataset, batch: int = BATCH) -> float:
    """Sum of log p over the test split, in model space (one fixed dequantization draw)."""
    g = torch.Generator().manual_seed(DEQUANT_SEED)
    total = 0.0
    with torch.no_grad():
        for chunk in reference.test.split(batch):
            total += model.log_prob(reference.continuous(chunk, g)).double().sum().item()
    return total


@register_metric
class NegativeLogLikelihood(Metric):
    name = "nll"
    needs_log_prob = True
    outputs = (
        Output("nll", "lower", "test negative log-likelihood, nats per example", 0.02, 0.002, unit="nats per example"),
        Output("bpd", "lower", "test negative log-likelihood, bits per dimension (discrete data)", 0.002, 0.002, unit="bits per dimension"),
    )

    def applies(self, dataset: Dataset) -> str | None:
        return "text is scored by 'perplexity' (nats per token)" if dataset.kind == "text" else None

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        if model is None or not model.has_log_prob:
            raise GenbenchError("metric 'nll' needs a model with an exact log_prob (score a --checkpoint)")
        nll = -held_out_log_prob(model, reference) / len(reference.test)
        if not math.isfinite(nll):
            raise GenbenchError("the model assigns zero density to some test points: NLL is infinite")
        out = {"nll": nll}
        if reference.levels is not None:
            nll += reference.dim * math.log(reference.levels)
            out = {"nll": nll, "bpd": nll / (reference.dim * math.log(2))}
        return out
