"""BLEU of generated text against held-out text, and Self-BLEU among the samples (Texygen protocol,
Zhu et al. 2018), computed by sacrebleu.

BLEU-n (quality): each sample is one hypothesis, scored by sacrebleu's sentence BLEU with every
test row as its references; the score is the mean over samples. Self-BLEU-n (diversity, lower is
more diverse): the same with each sample against all *other* samples. BLEU-n is the geometric mean
of the clipped 1..n-gram precisions times the brevity penalty (`max_ngram_order=n`, exponential
smoothing, effective order), on sacrebleu's 13a word tokens of the decoded text, whitespace
collapsed. Scores are 0..100; sacrebleu's signature is stored with them (`Metric.info`).

sacrebleu re-reads all references for every sentence, which is quadratic for Self-BLEU. Here the
references' n-gram maxima are built once with sacrebleu's own functions: for BLEU one merged
table; for Self-BLEU each n-gram's largest and second-largest count over samples, so the maximum
over the *others* is known without a pass over them. The statistics and the score then come from
sacrebleu itself, and the result equals the plain sacrebleu loop (tests check this).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sacrebleu.metrics import BLEU
from sacrebleu.metrics.helpers import extract_all_word_ngrams

from genbench.data import Dataset
from genbench.data.text import segments
from genbench.metrics import Output, register_metric
from genbench.metrics.text_samples import TextSampleMetric

ORDERS = (2, 3, 4, 5)
TOKENIZE = "13a"


def sacrebleu_bleu(order: int) -> BLEU:
    return BLEU(max_ngram_order=order, tokenize=TOKENIZE, effective_order=True)


def signature(order: int, num_refs: int) -> str:
    """sacrebleu's signature of the BLEU used here, with `num_refs` references per sentence."""
    bleu = sacrebleu_bleu(order)
    bleu.num_refs = num_refs
    return str(bleu.get_signature())


def sentence_bleus(hypotheses: list[str], references: list[str], order: int) -> np.ndarray:
    """Sentence BLEU of each hypothesis against all references."""
    bleu = sacrebleu_bleu(order)
    ref_info = bleu._cache_references([[r] for r in references])[0]  # n-gram maxima, once
    scores = [bleu._compute_score_from_stats(bleu._compute_segment_statistics(bleu._preprocess_segment(h), ref_info)).score
              for h in hypotheses]
    return np.array(scores)


def closest_other_length(length: int, counts: Counter) -> int:
    """sacrebleu's closest reference length (ties: the shorter) among the other samples' lengths."""
    if counts[length] > 1:
        return length
    return min((abs(length - n), n) for n, c in counts.items() if n != length and c > 0)[1]


def self_bleus(texts: list[str], order: int) -> np.ndarray:
    """Sentence BLEU of each text against all the others."""
    if len(texts) < 2:
        raise ValueError("Self-BLEU needs at least two samples")
    bleu = sacrebleu_bleu(order)
    texts = [bleu._preprocess_segment(t) for t in texts]
    grams, lengths = zip(*(extract_all_word_ngrams(t, 1, order) for t in texts), strict=True)
    top: dict[tuple, list[int]] = {}  # n-gram -> [largest count, how many samples have it, second largest]
    for g in grams:
        for ngram, c in g.items():
            t = top.setdefault(ngram, [0, 0, 0])
            if c > t[0]:
                t[:] = [c, 1, t[0]]
            elif c == t[0]:
                t[1] += 1
            elif c > t[2]:
                t[2] = c
    length_counts = Counter(lengths)
    scores = []
    for text, g, n in zip(texts, grams, lengths, strict=True):
        others = {}  # max count over the other samples: the largest, unless this sample alone holds it
        for ngram, c in g.items():
            largest, holders, second = top[ngram]
            others[ngram] = largest if c < largest or holders > 1 else second
        ref_info = {"ref_ngrams": others, "ref_lens": [closest_other_length(n, length_counts)]}
        scores.append(bleu._compute_score_from_stats(bleu._compute_segment_statistics(text, ref_info)).score)
    return np.array(scores)


@register_metric
class Bleu(TextSampleMetric):
    name, prefix, orders = "bleu", "bleu", ORDERS
    outputs = tuple(Output(f"bleu{n}", "higher", f"BLEU-{n} of samples against the held-out rows (quality), 0-100",
                           0.5, 0.02, unit="fraction (brevity penalty × geometric mean of n-gram precisions)", scale=100) for n in ORDERS)

    def per_order(self, texts: list[str], reference: Dataset, n: int) -> float:
        return sentence_bleus(texts, segments(reference.test, reference.vocab), n).mean()

    def info(self, samples, reference: Dataset, model=None) -> dict[str, str]:
        return {"sacrebleu": signature(max(ORDERS), len(reference.test)), "orders": f"{min(ORDERS)}-{max(ORDERS)}",
                "protocol": "mean sentence BLEU of each sample against all held-out rows"}


@register_metric
class SelfBleu(TextSampleMetric):
    name, prefix, orders = "self-bleu", "self_bleu", ORDERS
    outputs = tuple(Output(f"self_bleu{n}", "lower", f"Self-BLEU-{n}: each sample against the others (lower is more "
                                                      "diverse), 0-100", 0.5, 0.02, unit="fraction (brevity penalty × geometric mean of n-gram precisions)", scale=100) for n in ORDERS)

    def per_order(self, texts: list[str], reference: Dataset, n: int) -> float:
        return self_bleus(texts, n).mean()

    def info(self, samples, reference: Dataset, model=None) -> dict[str, str]:
        return {"sacrebleu": signature(max(ORDERS), len(samples) - 1), "orders": f"{min(ORDERS)}-{max(ORDERS)}",
                "protocol": "mean sentence BLEU of each sample against all other samples"}
