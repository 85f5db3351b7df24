"""Speed of the text metrics, each beside the bare sacrebleu call on the same strings (the anchor).
Run: `tox -e bench` or `pytest tests/benchmarks/test_text_speed.py --benchmark-only`; compare the
rows within group 'self-bleu' and within group 'bleu'. The sacrebleu loops are slow (quadratic
for Self-BLEU), so they run one round."""

import pytest
import torch
from sacrebleu.metrics import BLEU

from genbench.data import load_dataset
from genbench.data.text import segments
from genbench.metrics import METRICS
from genbench.metrics.bleu import self_bleus, sentence_bleus
from genbench.metrics.distinct import distinct_n
from genbench.models import build_model

N = 1000
BLEU_HYPS = 200  # BLEU against all 871 held-out rows: the sacrebleu loop re-reads them per sentence


@pytest.fixture(scope="module")
def text():
    ds = load_dataset("shakespeare-char")
    model = build_model("ngram", ds.shape, {"order": 5}, vocab=ds.vocab)
    model.initialize(ds.train, torch.Generator())
    samples = model.sample(N, torch.Generator().manual_seed(0))
    return ds, model, segments(samples, ds.vocab), segments(ds.test, ds.vocab)


def sacrebleu_self_bleu(texts, order):
    bleu = BLEU(max_ngram_order=order, effective_order=True)
    return [bleu.sentence_score(t, texts[:i] + texts[i + 1:]).score for i, t in enumerate(texts)]


def sacrebleu_bleu(hyps, refs, order):
    bleu = BLEU(max_ngram_order=order, effective_order=True)
    return [bleu.sentence_score(h, refs).score for h in hyps]


@pytest.mark.benchmark(group="self-bleu")
def test_genbench_self_bleu_1000(benchmark, text):
    scores = benchmark(self_bleus, text[2], 4)
    assert len(scores) == N


@pytest.mark.benchmark(group="self-bleu")
def test_sacrebleu_self_bleu_loop_1000_anchor(benchmark, text):
    scores = benchmark.pedantic(sacrebleu_self_bleu, args=(text[2], 4), rounds=1, iterations=1)
    assert scores == pytest.approx(list(self_bleus(text[2], 4)), abs=1e-9)


@pytest.mark.benchmark(group="bleu")
def test_genbench_bleu(benchmark, text):
    scores = benchmark(sentence_bleus, text[2][:BLEU_HYPS], text[3], 4)
    assert len(scores) == BLEU_HYPS


@pytest.mark.benchmark(group="bleu")
def test_sacrebleu_bleu_loop_anchor(benchmark, text):
    scores = benchmark.pedantic(sacrebleu_bleu, args=(text[2][:BLEU_HYPS], text[3], 4), rounds=1, iterations=1)
    assert scores == pytest.approx(list(sentence_bleus(text[2][:BLEU_HYPS], text[3], 4)), abs=1e-9)


@pytest.mark.benchmark(group="text-other")
def test_distinct_n_1000(benchmark, text):
    assert 0 < benchmark(distinct_n, text[2], 2) < 1


@pytest.mark.benchmark(group="text-other")
def test_perplexity_ngram_on_the_test_split(benchmark, text):
    ds, model = text[0], text[1]
    out = benchmark.pedantic(METRICS.get("perplexity")().compute, args=(None, ds, model), rounds=3, iterations=1)
    assert 1 < out["nll_test"] < 2
