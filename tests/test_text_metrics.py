"""Text metrics against known answers: perplexity of a uniform model, the oracle's entropy rate,
sacrebleu itself, and the limits of Self-BLEU and distinct-n."""

import math
import random

import pytest
import torch
from sacrebleu.metrics import BLEU

from genbench.data import load_dataset
from genbench.data.oracle import TeacherLSTM
from genbench.data.text import segments
from genbench.figures.tradeoff import sweep
from genbench.metrics import METRICS
from genbench.metrics.bleu import self_bleus
from genbench.metrics.distinct import distinct_n
from genbench.models import build_model
from genbench.models.autoregressive import Autoregressive
from genbench.scoring import evaluate


class Uniform(Autoregressive):
    """Probability 1/V for every token in every context."""

    name = "uniform"

    def next_logits(self, x):
        return torch.zeros(*x.shape, self.V)

    def start(self, n):
        return n

    def step(self, state, token):
        return torch.zeros(state, self.V), state


@pytest.mark.parametrize("dataset, params", [("shakespeare-char", {"context": 64}), ("oracle", {"vocab_size": 37})])
def test_uniform_model_has_perplexity_V(dataset, params):
    ds = load_dataset(dataset, params)
    V = len(ds.vocab)
    out = METRICS.get("perplexity")().compute(None, ds, Uniform(ds.shape, ds.vocab))
    assert math.isclose(out["perplexity"], V, rel_tol=1e-9)
    assert math.isclose(out["bpc"], math.log2(V), rel_tol=1e-9)
    assert math.isclose(out["nll_test"], math.log(V), rel_tol=1e-9)


def test_teacher_samples_score_its_entropy_rate():
    """nll-oracle of the data's own samples = the entropy rate, estimated here independently from
    the exact entropies of the teacher's conditionals on other samples."""
    params = {"vocab_size": 50, "length": 12, "hidden": 16, "n_train": 10, "n_test": 10, "seed": 3}
    ds = load_dataset("oracle", params)
    teacher = TeacherLSTM(50, 16, 12, seed=3)
    samples = teacher.sample(4000, torch.Generator().manual_seed(7))
    nll = METRICS.get("nll-oracle")().compute(samples.float(), ds)["nll_oracle"]
    per_row = -teacher.log_prob(samples) / 12
    se_nll = (per_row.std() / math.sqrt(len(per_row))).item()
    entropy, se_h = teacher.entropy_rate(4000, torch.Generator().manual_seed(8))
    assert abs(nll - entropy) < 4 * math.hypot(se_nll, se_h), (nll, entropy, se_nll, se_h)
    assert 0.5 < entropy < math.log(50)  # far from both degenerate and uniform


@pytest.fixture(scope="module")
def oracle_small():
    return load_dataset("oracle", {"vocab_size": 30, "length": 10, "n_train": 200, "n_test": 60, "seed": 1})


def test_bleu_equals_a_direct_sacrebleu_call(oracle_small):
    ds = oracle_small
    model = Uniform(ds.shape, ds.vocab)
    samples = torch.cat([model.sample(40, torch.Generator().manual_seed(0)), ds.train[:10]]).float()
    out = METRICS.get("bleu")().compute(samples, ds)
    hyps, refs = segments(samples, ds.vocab), segments(ds.test, ds.vocab)
    for n in (2, 3, 4, 5):
        direct = BLEU(max_ngram_order=n, effective_order=True)
        expected = sum(direct.sentence_score(h, refs).score for h in hyps) / len(hyps)
        assert out[f"bleu{n}"] == pytest.approx(expected, abs=1e-9)
    assert 0 < out["bleu5"] < out["bleu2"] < 100


def test_self_bleu_equals_the_sacrebleu_loop(oracle_small):
    ds = oracle_small
    texts = segments(torch.cat([ds.train[:30], ds.train[:5]]), ds.vocab)  # with duplicates
    texts += segments(ds.train[40:45, :7], ds.vocab) + ["w1 w2 w3"]  # and other lengths
    for n in (2, 4):
        bleu = BLEU(max_ngram_order=n, effective_order=True)
        loop = [bleu.sentence_score(t, texts[:i] + texts[i + 1:]).score for i, t in enumerate(texts)]
        assert self_bleus(texts, n) == pytest.approx(loop, abs=1e-9)


def test_self_bleu_limits():
    same = ["the quick brown fox jumps over the lazy dog"] * 20
    assert self_bleus(same, 4).mean() == pytest.approx(100.0)
    rng = random.Random(0)
    word = lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))  # noqa: E731
    unrelated = [" ".join(word() for _ in range(12)) for _ in range(20)]
    assert self_bleus(unrelated, 4).mean() < 1.0


def test_distinct_n_of_a_repeated_sentence_falls_with_n():
    sentence = "to be or not to be that is the question"
    values = [distinct_n([sentence] * n, 2) for n in (1, 2, 5, 10)]
    assert values[0] == pytest.approx(8 / 9)  # 9 bigrams, 'to be' twice
    assert values == sorted(values, reverse=True) and values[-1] == pytest.approx(8 / 90)
    assert distinct_n([sentence], 1) == pytest.approx(8 / 10)  # 'to', 'be' repeat


def test_lower_temperature_higher_bleu_and_self_bleu_on_a_trained_model():
    ds = load_dataset("shakespeare-char", {"context": 64})
    model = build_model("ngram", ds.shape, {"order": 4}, vocab=ds.vocab)
    model.initialize(ds.train, torch.Generator())
    rows = sweep(model, ds, temperatures=(0.5, 1.0, 1.5), n=150)
    bleu, self_bleu = [r["bleu"] for r in rows], [r["self_bleu"] for r in rows]
    assert bleu[0] > bleu[1] > bleu[2] and self_bleu[0] > self_bleu[1] > self_bleu[2], rows
    assert model.temperature == 1.0  # the sweep sets each draw's temperature, never the model's


def test_signature_is_stored_with_the_numbers(oracle_small):
    ds = oracle_small
    model = Uniform(ds.shape, ds.vocab)
    result = evaluate(ds, ["bleu", "self-bleu", "distinct-n"], model=model, n_samples=30,
                      generator=torch.Generator().manual_seed(0), progress=False)
    assert result["info"]["bleu"]["sacrebleu"].startswith("nrefs:60|") and "tok:13a" in result["info"]["bleu"]["sacrebleu"]
    assert result["info"]["self-bleu"]["sacrebleu"].startswith("nrefs:29|")
    assert all(isinstance(v, float) for v in result["metrics"].values())
