"""The shape shared by metrics of generated text: decode the samples to one line each, then one
value per n-gram order (BLEU-n, Self-BLEU-n, distinct-n)."""

from __future__ import annotations

from typing import ClassVar

from genbench.data import Dataset
from genbench.data.text import not_text, segments
from genbench.metrics import Metric


class TextSampleMetric(Metric):
    n_samples = 1000
    prefix: ClassVar[str]  # output key = prefix + order
    orders: ClassVar[tuple[int, ...]]

    def applies(self, dataset: Dataset) -> str | None:
        return not_text(dataset)

    def per_order(self, texts: list[str], reference: Dataset, n: int) -> float:
        raise NotImplementedError

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        texts = segments(samples, reference.vocab)
        return {f"{self.prefix}{n}": float(self.per_order(texts, reference, n)) for n in self.orders}
