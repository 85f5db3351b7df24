"""Corpus BLEU and chrF of a user's own system outputs against references, one segment per line
(translation-style), computed by sacrebleu with its default settings and its signature:
`genbench score --text HYPS.txt --refs REFS.txt`.

    corpus BLEU (Papineni et al. 2002): n-gram statistics summed over all segments, then one score
    chrF (Popovic 2015): character n-gram F-score, beta = 2

The metric is registered so that its outputs have a direction and a gate tolerance like every other;
it scores text files, not datasets.
"""

from __future__ import annotations

import io
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from genbench.data import Dataset
from genbench.data.text import read_utf8
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric


def read_segments(path: str | Path, what: str) -> list[str]:
    """One segment per line of a UTF-8 file, read as sacrebleu's command line reads it: lines end at
    "\n" only (not at U+2028, U+0085, form feed or a lone CR, which str.splitlines would also split
    on, so `wc -l` and the segment count agree), each stripped of trailing whitespace (CRLF's CR too).
    A final newline ends the last line, it adds none; an empty line is an empty segment."""
    return [line.rstrip() for line in io.StringIO(read_utf8(path, what), newline="\n")]


@register_metric
class CorpusTranslation(Metric):
    name = "sacrebleu"
    outputs = (
        Output("corpus_bleu", "higher", "corpus BLEU of the system outputs against the references (sacrebleu), 0-100",
               0.1, 0.005),
        Output("chrf", "higher", "chrF of the system outputs against the references (sacrebleu), 0-100", 0.1, 0.005),
    )

    def applies(self, dataset: Dataset) -> str | None:
        return "it scores system outputs against references: use `genbench score --text HYPS --refs REFS`"

    @staticmethod
    def score_files(hyps: str | Path, refs: str | Path) -> tuple[dict[str, float], dict[str, str], int]:
        """(metrics, sacrebleu signatures, segments) for a hypothesis file against a reference file."""
        h, r = read_segments(hyps, "hypothesis file"), read_segments(refs, "reference file")
        if len(h) != len(r):
            raise GenbenchError(f"hypothesis file {hyps} has {len(h)} lines but reference file {refs} has {len(r)}: "
                                "they must be aligned, one segment per line")
        bleu, chrf = BLEU(), CHRF()
        values = {"corpus_bleu": bleu.corpus_score(h, [r]).score, "chrf": chrf.corpus_score(h, [r]).score}
        return values, {"corpus_bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}, len(h)
