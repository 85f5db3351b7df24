"""Bits per character and per byte of a dataset's held-out text under a language model with its own
tokenizer (lm-evaluation-harness's bits-per-byte convention), so that a Hugging Face causal LM
ranks beside the character baselines whatever its vocabulary:

    bits_per_char = -sum_t log2 p(token_t | tokens before it) / characters of the text
    bits_per_byte = the same sum / UTF-8 bytes of the text
    byte_perplexity, word_perplexity, token_perplexity = exp(nats / bytes, words, tokens)

with words counted as lm-evaluation-harness counts them (len(re.split(r"\\s+", text))), so its
wikitext-style columns read alike. The text is one document (the datasets here have none inside).

The held-out text is the test split decoded as one stream (on shakespeare-char: the characters
the character baselines score). It is tokenized once, a begin-of-text token put in front, and read
in windows of the model's context length L that advance by `stride` tokens; each window scores
only the tokens no earlier window scored, so every token is scored exactly once, and once the
text exceeds L each with at least L - stride tokens of context. The default, stride = L, is
lm-evaluation-harness's loglikelihood_rolling (its get_rolling_token_windows with context_len 1:
disjoint windows, each read from the token before it); a smaller stride gives every token more
context and reads lower, so it is named in the result. The character baselines' `bpc` scores each 128-character
test row from its own start, so a model that sees more context than that has an advantage.

`genbench score --hf-model DIR --dataset shakespeare-char` (genbench/hf.py loads the model).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch

from genbench.data import Dataset
from genbench.data.text import decode, not_text
from genbench.metrics import Metric, Output, register_metric

LOGITS_BUDGET = 1 << 26  # floats of logits per forward pass (256 MB)
MAX_BATCH = 64  # windows per forward pass


def held_out_text(dataset: Dataset) -> str:
    return decode(dataset.test.flatten().tolist(), dataset.vocab)


def window_plan(n: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first) per window over s = [begin] + tokens (n tokens): the window reads
    s[start:end] and scores tokens[first:end], the logits of its last end - first positions."""
    plan, done = [], 0
    while done < n:
        end = min(window if done == 0 else done + stride, n)
        plan.append((max(0, end - window), end, done))
        done = end
    return plan


@torch.no_grad()
def stream_nll(logits: Callable[[torch.Tensor], torch.Tensor], tokens: torch.Tensor, begin: int, window: int,
               stride: int, vocab_size: int) -> float:
    """Total negative log-likelihood (nats) of `tokens` (1-D), read as the module docstring says."""
    s = torch.cat([torch.tensor([begin]), tokens.long()])
    plan = window_plan(len(tokens), window, stride)
    batch = max(1, min(MAX_BATCH, LOGITS_BUDGET // (window * vocab_size)))
    total = 0.0
    i = 0
    while i < len(plan):
        # Windows of one length go through the model together (all of them but a short first one).
        length = plan[i][1] - plan[i][0]
        group = [w for w in plan[i:i + batch] if w[1] - w[0] == length]
        out = logits(torch.stack([s[a:b] for a, b, _ in group])).float()
        norm = out.logsumexp(-1)  # log p(t) = logit(t) - logsumexp(logits): no (T, V) log-softmax needed
        for row, z, (a, b, first) in zip(out, norm, group, strict=True):
            targets = tokens[first:b].long().to(row.device)
            picked = row[first - a:b - a].gather(1, targets[:, None])[:, 0]
            total -= (picked - z[first - a:b - a]).double().sum().item()
        i += len(group)
    return total


@register_metric
class BitsPerByte(Metric):
    name = "bits-per-byte"
    outputs = (
        Output("bits_per_char", "lower", "held-out bits per character of the test text read as one stream by a "
               "language model with any tokenizer (genbench score --hf-model)", 0.003, 0.002, unit="bits per character"),
        Output("bits_per_byte", "lower", "held-out bits per UTF-8 byte of the test text read as one stream by a "
               "language model with any tokenizer (lm-evaluation-harness's bits_per_byte)", 0.003, 0.002, unit="bits per UTF-8 byte"),
        Output("byte_perplexity", "lower", "exp(nats per UTF-8 byte) of the held-out text (lm-evaluation-harness's "
               "byte_perplexity)", 0.003, 0.002, unit="perplexity per UTF-8 byte"),
        Output("word_perplexity", "lower", "exp(nats per whitespace-separated word) of the held-out text "
               "(lm-evaluation-harness's word_perplexity)", 0.01, 0.005, unit="perplexity per word"),
        Output("token_perplexity", "lower", "exp(nats per token of the model's own tokenizer) of the held-out text; "
               "compares only models that share a tokenizer", 0.01, 0.005, unit="perplexity per token"),
    )

    def applies(self, dataset: Dataset) -> str | None:
        return not_text(dataset) or "it scores a Hugging Face causal LM: use `genbench score --hf-model DIR --dataset NAME`"

    @staticmethod
    def from_nll(nll: float, text: str, tokens: int) -> dict[str, float]:
        """Every output from the text's total negative log-likelihood `nll` (nats) over `tokens` tokens."""
        bits, n_bytes = nll / math.log(2), len(text.encode("utf-8"))
        return {"bits_per_char": bits / len(text), "bits_per_byte": bits / n_bytes,
                "byte_perplexity": math.exp(nll / n_bytes), "word_perplexity": math.exp(nll / count_words(text)),
                "token_perplexity": math.exp(nll / tokens)}


def count_words(text: str) -> int:
    """Words as lm-evaluation-harness's perplexity tasks count them (its _count_words)."""
    return len(re.split(r"\s+", text))
