"""Distinct-n (Li et al. 2016): the share of n-grams among all generated n-grams that are unique.

    distinct_n = |{distinct n-grams over all samples}| / (number of n-grams over all samples)

On the same 13a word tokens as `bleu` and `self-bleu`. Higher is more diverse; N copies of one
sentence score (its distinct n-grams) / (N x its n-grams), which falls as N grows.
"""

from __future__ import annotations

from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from genbench.data import Dataset
from genbench.metrics import Output, register_metric
from genbench.metrics.text_samples import TextSampleMetric

ORDERS = (1, 2, 3, 4)


def distinct_n(texts: list[str], n: int) -> float:
    tokenize = Tokenizer13a()
    seen, total = set(), 0
    for text in texts:
        words = tokenize(text).split()
        grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


@register_metric
class DistinctN(TextSampleMetric):
    name, prefix, orders = "distinct-n", "distinct", ORDERS
    outputs = tuple(Output(f"distinct{n}", "higher", f"distinct-{n}: unique {n}-grams / all {n}-grams of the "
                                                     "samples (diversity)", 0.005, 0.02, unit="fraction of n-grams, 0-1") for n in ORDERS)

    def per_order(self, texts: list[str], reference: Dataset, n: int) -> float:
        return distinct_n(texts, n)
