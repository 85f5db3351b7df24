"""Corpus BLEU, chrF and TER of a user's own system outputs against one or more references, one
segment per line (translation-style), computed by sacrebleu with its command line's options, and
recorded with its signatures: `genbench score --text HYPS.txt --refs REFS.txt [REFS2.txt ...]`.

    corpus BLEU (Papineni et al. 2002): n-gram statistics summed over all segments, then one score
    chrF (Popovic 2015): character n-gram F-score, beta = 2; with word n-grams, chrF++ (Popovic 2017)
    TER (Snover et al. 2006): edits, shifts included, per reference word, as Tercom counts them
    paired bootstrap resampling (Koehn 2004): is the difference from a baseline system chance?
    bootstrap confidence interval (`--sacrebleu confidence`): the 95% half-width over resampled segments

Options (`--sacrebleu KEY=VALUE`) are sacrebleu's command-line options under their own names, so
a sacrebleu command translates word for word; each lands in the signature as sacrebleu records it.
Sentence scores are sacrebleu's sentence-level ones (BLEU with effective order, as its
`--sentence-level` uses), read from the same segment statistics as the corpus scores.

The metric is registered so that its outputs have a direction and a gate tolerance like every other;
it scores text files, not datasets.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.bleu import BLEUScore
from sacrebleu.significance import PairedTest

from genbench.data import Dataset
from genbench.data.text import read_utf8
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric
from genbench.registry import unknown_name_message

KEYS = ("corpus_bleu", "chrf", "ter")  # output keys, in the order sacrebleu's metrics are built


def read_segments(path: str | Path, what: str) -> list[str]:
    """One segment per line of a UTF-8 file, read as sacrebleu's command line reads it: lines end at
    "\n" only (not at U+2028, U+0085, form feed or a lone CR, which str.splitlines would also split
    on, so `wc -l` and the segment count agree), each stripped of trailing whitespace (CRLF's CR too).
    A final newline ends the last line, it adds none; an empty line is an empty segment. A byte-order
    mark is kept, as sacrebleu 2.6.0's command line keeps it (it opens files as "utf-8", not
    "utf-8-sig"), so that the scores are the ones `sacrebleu REFS -i HYPS` prints."""
    return [line.rstrip() for line in io.StringIO(read_utf8(path, what, keep_bom=True), newline="\n")]


@dataclass(frozen=True)
class Option:
    """One of sacrebleu's command-line options: the metric it configures and its keyword there."""

    metric: str  # "bleu", "chrf", "ter", "paired-bs" (the significance test) or "confidence" (the interval)
    keyword: str
    kind: type
    choices: tuple[str, ...] = ()
    low: float | None = None  # smallest value allowed
    low_open: bool = False


OPTIONS = {
    "tokenize": Option("bleu", "tokenize", str, tuple(BLEU.TOKENIZERS)),
    "lowercase": Option("bleu", "lowercase", bool),
    "smooth-method": Option("bleu", "smooth_method", str, tuple(BLEU.SMOOTH_DEFAULTS)),
    "smooth-value": Option("bleu", "smooth_value", float, low=0.0, low_open=True),
    "chrf-char-order": Option("chrf", "char_order", int, low=0),
    "chrf-word-order": Option("chrf", "word_order", int, low=0),
    "chrf-beta": Option("chrf", "beta", int, low=0),
    "chrf-whitespace": Option("chrf", "whitespace", bool),
    "chrf-lowercase": Option("chrf", "lowercase", bool),
    "chrf-eps-smoothing": Option("chrf", "eps_smoothing", bool),
    "ter-case-sensitive": Option("ter", "case_sensitive", bool),
    "ter-asian-support": Option("ter", "asian_support", bool),
    "ter-no-punct": Option("ter", "no_punct", bool),
    "ter-normalized": Option("ter", "normalized", bool),
    "paired-bs-n": Option("paired-bs", "n_samples", int, low=1),
    "confidence": Option("confidence", "on", bool),
    "confidence-n": Option("confidence", "n", int, low=2),
}
CONFIDENCE_N = 1000  # sacrebleu's --confidence-n default
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def option_value(name: str, option: Option, value) -> object:
    """`value` (a string from the command line, or a Python value) as the option's type, checked."""
    what = f"sacrebleu option {name}"
    if option.kind is bool:
        if isinstance(value, str) and value.lower() in TRUE + FALSE:
            return value.lower() in TRUE
        if not isinstance(value, bool):
            raise GenbenchError(f"{what} is true or false, got {value!r}")
        return value
    if value is True:  # a bare KEY: only switches go without a value
        raise GenbenchError(f"{what} needs a value: {name}=VALUE")
    if option.choices:
        if value not in option.choices:
            raise GenbenchError(f"{what}: " + unknown_name_message("value", str(value), list(option.choices)))
        return value
    try:
        number = option.kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or (option.kind is int and number != float(value)):
        raise GenbenchError(f"{what} must be {'an integer' if option.kind is int else 'a number'}, got {value!r}")
    too_low = option.low is not None and (number <= option.low if option.low_open else number < option.low)
    if not math.isfinite(number) or too_low:
        raise GenbenchError(f"{what} must be {'>' if option.low_open else '>='} {option.low:g}, got {value!r}")
    return number


def parse_options(items: list[str] | dict | None) -> dict[str, dict[str, object]]:
    """sacrebleu options, as 'KEY=VALUE' strings (a bare KEY switches an option on) or a dict, to
    {metric: {sacrebleu keyword: value}}; unknown options and values are refused."""
    pairs = []
    for item in items or []:
        if isinstance(items, dict):
            pairs.append((item, items[item]))
        else:
            key, eq, value = str(item).partition("=")
            pairs.append((key, value if eq else True))
    out: dict[str, dict[str, object]] = {"bleu": {}, "chrf": {}, "ter": {}, "paired-bs": {}, "confidence": {}}
    for key, value in pairs:
        name = str(key).strip().replace("_", "-")
        if name not in OPTIONS:
            raise GenbenchError(unknown_name_message("sacrebleu option", name, list(OPTIONS)))
        option = OPTIONS[name]
        out[option.metric][option.keyword] = option_value(name, option, value)
    bleu, chrf = out["bleu"], out["chrf"]
    if "smooth_value" in bleu and BLEU.SMOOTH_DEFAULTS[bleu.get("smooth_method", "exp")] is None:
        raise GenbenchError(f"sacrebleu option smooth-value applies to smooth-method floor or add-k, not "
                            f"{bleu.get('smooth_method', 'exp')!r}")
    if chrf.get("char_order", CHRF.CHAR_ORDER) + chrf.get("word_order", CHRF.WORD_ORDER) == 0:
        raise GenbenchError("sacrebleu options chrf-char-order and chrf-word-order are both 0: chrF counts nothing")
    if "n" in out["confidence"] and not out["confidence"].get("on"):  # sacrebleu would ignore it: a silent no-op
        raise GenbenchError("sacrebleu option confidence-n goes with confidence (the bootstrap interval it sizes)")
    return out


def build_metrics(options: dict[str, dict[str, object]]) -> tuple[BLEU, CHRF, TER, BLEU]:
    """sacrebleu's BLEU, chrF and TER with `options`, and the sentence-level BLEU (effective order)."""
    try:
        return (BLEU(**options["bleu"]), CHRF(**options["chrf"]), TER(**options["ter"]),
                BLEU(**options["bleu"], effective_order=True))
    except (ImportError, RuntimeError, OSError) as e:  # a tokenizer's missing extra or model
        why = " ".join(str(e).split())
        raise GenbenchError(f"sacrebleu cannot build tokenizer {options['bleu'].get('tokenize')!r}: {why}") from None


def read_aligned(hyps: str | Path, refs: list[str | Path], what: str = "hypothesis file") -> tuple[list, list]:
    """The hypotheses and each reference file, checked to have one line per segment alike."""
    if not refs:
        raise GenbenchError("--text needs --refs FILE [FILE ...] (the references, one segment per line)")
    h = read_segments(hyps, what)
    columns = [read_segments(r, "reference file") for r in refs]
    for path, column in zip(refs, columns, strict=True):
        if len(column) != len(h):
            raise GenbenchError(f"{what} {hyps} has {len(h)} lines but reference file {path} has {len(column)}: "
                                "they must be aligned, one segment per line")
    return h, columns


def paired_bootstrap(metrics: dict[str, object], system: list[str], baseline: list[str], refs: list[list[str]],
                     n_samples: int = 1000) -> dict:
    """sacrebleu's paired bootstrap resampling of the system against the baseline (its seed: $SACREBLEU_SEED,
    12345 unless set): per output, both scores, their bootstrap means and 95% half-widths, and the p-value."""
    test = PairedTest([("baseline", baseline), ("system", system)], dict(zip(KEYS, metrics.values(), strict=True)),
                      references=refs, test_type="bs", n_samples=n_samples)
    signatures, scores = test()
    out = {"signatures": {}}
    for key, name in zip(KEYS, [n for n in scores if n != "System"], strict=True):
        base, mine = scores[name]
        out["signatures"][key] = str(signatures[name])
        out[key] = {"system": mine.score, "system_mean": float(mine.mean), "system_ci": float(mine.ci),
                    "baseline": base.score, "baseline_mean": float(base.mean), "baseline_ci": float(base.ci),
                    "p_value": float(mine.p_value)}
    return out


def bootstrap_interval(metric, stats: list, score, n: int) -> dict:
    """sacrebleu's --confidence for one corpus score: `n` resamples of the segments (its seed,
    $SACREBLEU_SEED, 12345 unless set), their mean and 95% half-width set on `score` (so its line
    prints "μ = mean ± ci") and on `metric` (so its signature carries bs and seed), as corpus_score does."""
    from sacrebleu.significance import _bootstrap_resample

    metric.n_bootstrap = n
    metric.seed, resampled = _bootstrap_resample(stats, metric, n)
    score.estimate_ci(resampled)
    return {"mean": float(score._mean), "ci": float(score._ci), "resamples": n}


def sacrebleu_line(score, signature: str) -> dict:
    """A corpus score as sacrebleu reports it: its name (BLEU, chrF2, chrF2++ with word order 2, TER),
    the line its text output prints (`sacrebleu -f text`, verbose part included), and for BLEU the
    parts of that verbose line as numbers (n-gram precisions, brevity penalty, length ratio, lengths)."""
    out = {"name": score.name, "line": score.format(signature=signature)}
    if isinstance(score, BLEUScore):
        out.update({"precisions": list(score.precisions), "bp": score.bp, "ratio": score.ratio,
                    "hyp_len": score.sys_len, "ref_len": score.ref_len, "counts": list(score.counts),
                    "totals": list(score.totals)})
    return out


@register_metric
class CorpusTranslation(Metric):
    name = "sacrebleu"
    outputs = (
        Output("corpus_bleu", "higher", "corpus BLEU of the system outputs against the references (sacrebleu), 0-100",
               0.1, 0.005, unit="fraction (brevity penalty × geometric mean of n-gram precisions)", scale=100, scale_note="sacrebleu's score, 0-100"),
        Output("chrf", "higher", "chrF (chrF++ with word n-grams) of the system outputs against the references "
                                 "(sacrebleu), 0-100", 0.1, 0.005, unit="F-score of character (and word) n-grams", scale=100, scale_note="sacrebleu's score, 0-100"),
        Output("ter", "lower", "TER, edits per reference word, of the system outputs (sacrebleu), 0-100+", 0.1, 0.005, unit="edits per reference word", scale=100, scale_note="sacrebleu's score, 0-100 and beyond"),
    )

    def applies(self, dataset: Dataset) -> str | None:
        return "it scores system outputs against references: use `genbench score --text HYPS --refs REFS`"

    @staticmethod
    def score_files(hyps: str | Path, refs: list[str | Path], options: list[str] | dict | None = None,
                    compare: str | Path | None = None) -> dict:
        """{"metrics", "signatures", "segments", "sentences"[, "paired_bootstrap"]} for a hypothesis file
        against one or more reference files, with sacrebleu `options`; `compare`: a baseline system's file."""
        parsed = parse_options(options)
        if parsed["paired-bs"] and compare is None:
            raise GenbenchError("sacrebleu option paired-bs-n goes with --compare BASELINE (the paired bootstrap test)")
        *corpus, sentence_bleu = build_metrics(parsed)
        h, columns = read_aligned(hyps, refs)
        baseline = None if compare is None else read_aligned(compare, refs, "--compare file")[0]
        refs_by_file = [list(c) for c in columns]
        metrics, signatures, sentences, lines, confidence = {}, {}, {}, {}, {}
        for key, metric in zip(KEYS, corpus, strict=True):
            stats = metric._extract_corpus_statistics(h, refs_by_file)  # once: corpus and sentence scores
            score = metric._aggregate_and_compute(stats)
            metrics[key] = score.score
            if parsed["confidence"].get("on"):
                confidence[key] = bootstrap_interval(metric, stats, score, parsed["confidence"].get("n", CONFIDENCE_N))
            signatures[key] = str(metric.get_signature())
            lines[key] = sacrebleu_line(score, signatures[key])
            one = sentence_bleu if metric is corpus[0] else metric
            sentences[key.replace("corpus_", "")] = [one._aggregate_and_compute([s]).score for s in stats]
        sentence_bleu.num_refs = corpus[0].num_refs  # as sacrebleu's sentence_score would have set it
        signatures["sentence_bleu"] = str(sentence_bleu.get_signature())
        out = {"metrics": metrics, "signatures": signatures, "segments": len(h), "sentences": sentences,
               "sacrebleu": lines, **({"confidence": confidence} if confidence else {})}
        if baseline is not None:
            out["paired_bootstrap"] = paired_bootstrap(dict(zip(KEYS, corpus, strict=True)), h, baseline, refs_by_file,
                                                       **parsed["paired-bs"])
        return out
