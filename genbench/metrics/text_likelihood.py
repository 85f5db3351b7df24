"""Held-out perplexity and bits per character of a text model, exact from its `log_prob`.

    NLL = -sum_rows log P(row) / (rows x T)  nats per token,  perplexity = e^NLL,  bpc = NLL / ln 2

over every row of the test split (see `genbench.data.text` for what a row is). A model that puts
probability 1/V on each of V symbols scores perplexity V and log2(V) bits per token.
"""

from __future__ import annotations

import math

from genbench.data import Dataset
from genbench.data.text import not_text
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric
from genbench.metrics.likelihood import held_out_log_prob

ROWS = 256  # test rows per log_prob call


@register_metric
class Perplexity(Metric):
    name = "perplexity"
    needs_log_prob = True
    outputs = (
        Output("perplexity", "lower", "held-out perplexity, e^(nats per token)", 0.02, 0.005, unit="e^(nats per token), 1 upwards"),
        Output("bpc", "lower", "held-out bits per token (per character on character-level data)", 0.003, 0.002, unit="bits per token"),
        Output("nll_test", "lower", "held-out negative log-likelihood, nats per token (the model's coverage of the data)",
               0.002, 0.002, unit="nats per token"),
    )

    def applies(self, dataset: Dataset) -> str | None:
        return not_text(dataset)

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        if model is None or not model.has_log_prob:
            raise GenbenchError("metric 'perplexity' needs a model with an exact log_prob (score a --checkpoint)")
        nll = -held_out_log_prob(model, reference, ROWS) / reference.test.numel()
        if not math.isfinite(nll):
            raise GenbenchError("the model assigns probability zero to some held-out text (top_k too small?): "
                                "perplexity is infinite")
        return {"perplexity": math.exp(nll), "bpc": nll / math.log(2), "nll_test": nll}
