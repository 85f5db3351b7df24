"""NLL-oracle (Texygen, Zhu et al. 2018): how likely the model's samples are under the true data
distribution, which is known exactly on synthetic data such as the `oracle` dataset.

    nll_oracle = -1/(N T) sum_i log P_data(x_i),   x_i ~ model

Lower is better (quality); a model that drops modes can score well here, so read it beside
`nll_test` from the `perplexity` metric, the model's NLL of held-out data (coverage). The data's
own samples score the entropy rate of the data distribution, in expectation.
"""

from __future__ import annotations

import torch

from genbench.data import Dataset
from genbench.metrics import Metric, Output, register_metric


@register_metric
class NllOracle(Metric):
    name = "nll-oracle"
    n_samples = 1000
    outputs = (
        Output("nll_oracle", "lower", "negative log-likelihood of the samples under the true data distribution, "
                                      "nats per token (quality)", 0.02, 0.01, unit="nats per token"),
    )

    def applies(self, dataset: Dataset) -> str | None:
        if dataset.kind != "text" or dataset.log_prob is None:
            return f"dataset {dataset.name!r} has no known data likelihood (use 'oracle')"
        return None

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        x = samples.long()
        with torch.no_grad():
            return {"nll_oracle": -reference.log_prob(x).double().sum().item() / x.numel()}
