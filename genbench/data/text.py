"""Text data: rows of token ids, a vocabulary to read them, and Tiny Shakespeare by character.

A text dataset holds int64 token ids of shape (N, T); one row is one sequence. Models define a
distribution over whole rows (an autoregressive model starts every row from a begin-of-sequence
token), so the log-probability of a row is exact and perplexity is exp(total NLL / tokens).

shakespeare-char: the Tiny Shakespeare corpus (Karpathy's char-rnn `input.txt`, 1,115,394 bytes,
public domain). Vocabulary: the sorted characters of the whole corpus (65). Split: the first 90%
of the characters train, the last 10% test, as in nanoGPT (data/shakespeare_char/prepare.py cuts at
int(n * 0.9), rounding down: `split_rounding = "down"`; the default rounds to the nearest character,
which puts the cut one character later on this corpus). Each split is cut into consecutive,
non-overlapping windows of `context` characters, and the tail shorter than one window is dropped
(fewer than `context` characters). "Held-out" means every test window, each scored from its own
start. The test windows are consecutive, so laid end to end they give back the test stream (less its
short tail): nanoGPT's random validation windows are drawn from it (genbench.metrics.val_loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import torch

from genbench.data import DATASETS, Dataset
from genbench.data.fetch import Resource, fetch
from genbench.errors import GenbenchError
from genbench.paths import source_root
from genbench.registry import Count, Proportion, Range

TINY_SHAKESPEARE = Resource(
    name="tinyshakespeare.txt",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
    search=(str(source_root().parent / "shared" / "data"), "../shared/data"),  # a checkout's shared data, CI's too
    subdir="text",
)


def read_utf8(path: str | Path, what: str = "text file", keep_bom: bool = False) -> str:
    """The text of a UTF-8 file without its byte-order mark, if any (editors on Windows write one;
    kept, it would glue itself to the first word), unless `keep_bom` (as sacrebleu's command line
    keeps it); an empty file or one that is not UTF-8 is refused."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GenbenchError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise GenbenchError(f"{what} {path} cannot be read ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GenbenchError(f"{what} {path} is not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    if not keep_bom:
        text = text.removeprefix("\ufeff")
    if not text:
        raise GenbenchError(f"{what} {path} is empty")
    return text


def windows(ids: torch.Tensor, length: int, stride: int | None = None) -> torch.Tensor:
    """Windows (N, length) of a 1-D id stream starting every `stride` ids (default: `length`, so
    consecutive and non-overlapping); the short tail is dropped. Overlapping windows are a view."""
    return ids.unfold(0, length, stride or length)


def decode(ids, vocab: list[str]) -> str:
    """Token ids to text: characters are concatenated, longer symbols (words) joined by spaces."""
    sep = "" if all(len(s) == 1 for s in vocab) else " "
    return sep.join(vocab[int(i)] for i in ids)


def segments(rows: torch.Tensor, vocab: list[str]) -> list[str]:
    """Each row as one line of text with its whitespace collapsed (what BLEU compares)."""
    return [" ".join(decode(row.tolist(), vocab).split()) for row in rows.long()]


@DATASETS.register("shakespeare-char")
def shakespeare_char(context: Annotated[int, Range(2)] = 128, test_fraction: Proportion = 0.1, path: str | None = None,
                     train_stride: Count | None = None,
                     split_rounding: Literal["nearest", "down"] = "nearest") -> Dataset:
    """Tiny Shakespeare, character level (65 symbols), first 90% train / last 10% test."""
    if train_stride is not None and train_stride > context:
        raise GenbenchError(f"dataset 'shakespeare-char': train_stride must be in 1..context, got {train_stride}")
    text = read_utf8(fetch(TINY_SHAKESPEARE, path), "corpus")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    cut = len(ids) * (1 - test_fraction)
    cut = int(cut) if split_rounding == "down" else round(cut)
    # Overlapping training windows (train_stride < context) show the model many offsets of the text,
    # as nanoGPT's random crops do; the test windows never overlap, so held-out scores stay exact.
    train, test = windows(ids[:cut], context, train_stride), windows(ids[cut:], context)
    if len(test) == 0:
        raise GenbenchError(f"dataset 'shakespeare-char': the test split is shorter than one window of {context}")
    return Dataset(name="shakespeare-char", kind="text", train=train, test=test, vocab=vocab, stream=True,
                   description="Tiny Shakespeare by character, first 90% train / last 10% test, "
                               f"non-overlapping windows of {context}",
                   params={"context": context, "test_fraction": test_fraction,
                           **({"train_stride": train_stride} if train_stride is not None else {}),
                           **({"split_rounding": split_rounding} if split_rounding != "nearest" else {})})


def not_text(dataset: Dataset) -> str | None:
    """Why a text metric cannot score `dataset`, or None when it can."""
    return None if dataset.kind == "text" and dataset.vocab is not None else f"dataset {dataset.name!r} is not text"
