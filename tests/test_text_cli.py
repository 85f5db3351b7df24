"""The text track from the command line: datasets, `score --text`, text checkpoints, bad input."""

import json
import subprocess
import sys

import pytest
import torch
from sacrebleu.metrics import BLEU, CHRF, TER

from genbench.data import load_dataset
from genbench.data.fetch import fetch
from genbench.data.text import TINY_SHAKESPEARE
from genbench.errors import GenbenchError
from tests.conftest import assert_one_line_error, read_json

HYPS = ["the cat sat on the mat", "a dog barked at the moon", "hello world"]
REFS = ["the cat sat on a mat", "the dog barked at the moon", "hello there world"]


def test_shakespeare_split_and_vocabulary():
    ds = load_dataset("shakespeare-char")
    assert len(ds.vocab) == 65 and ds.vocab[0] == "\n" and ds.kind == "text"
    assert ds.train.shape == (1003854 // 128, 128) and ds.test.shape == (111540 // 128, 128)
    assert ds.train.dtype == torch.int64 and int(ds.train.max()) < 65
    assert "".join(ds.vocab[i] for i in ds.train[0, :9]) == "First Cit"


def test_shakespeare_offline_without_a_copy_is_a_clear_error(tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    with pytest.raises(GenbenchError) as e:
        fetch(replace(TINY_SHAKESPEARE, search=()))
    for needle in ("tinyshakespeare.txt not found", "offline", TINY_SHAKESPEARE.sha256, "karpathy/char-rnn"):
        assert needle in str(e.value)


def test_score_text_equals_sacrebleu(cli, tmp_path):
    (tmp_path / "h.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n", encoding="utf-8")
    code, out, _ = cli("score", "--text", tmp_path / "h.txt", "--refs", tmp_path / "r.txt", "--json", tmp_path / "s.json")
    assert code == 0 and "corpus_bleu" in out and "nrefs:1|" in out
    doc = read_json(tmp_path / "s.json")
    assert doc["n_samples"] == 3
    assert doc["metrics"]["corpus_bleu"] == pytest.approx(BLEU().corpus_score(HYPS, [REFS]).score)
    assert doc["metrics"]["chrf"] == pytest.approx(CHRF().corpus_score(HYPS, [REFS]).score)
    assert doc["metrics"]["ter"] == pytest.approx(TER().corpus_score(HYPS, [REFS]).score)
    assert doc["info"]["sacrebleu"]["corpus_bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert doc["info"]["sacrebleu"]["chrf"].startswith("nrefs:1|")


def sacrebleu_cli(hyps, refs):
    """BLEU, chrF and TER as sacrebleu's own command line computes them on the same files."""
    done = subprocess.run([sys.executable, "-m", "sacrebleu", str(refs), "-i", str(hyps), "-m", "bleu", "chrf", "ter",
                           "-b", "-w", "8"], capture_output=True, text=True, check=True)
    return dict(zip(("corpus_bleu", "chrf", "ter"), json.loads(done.stdout), strict=True))


def score_json(cli, tmp_path, hyps, refs):
    code, _, err = cli("score", "--text", hyps, "--refs", refs, "--json", tmp_path / "s.json")
    assert code == 0, err
    return read_json(tmp_path / "s.json")


# wc -l counts 3 lines; str.splitlines would see 7 (U+2028, form feed, U+0085, lone CR).
ODD_BREAKS = "the cat sat\u2028on the mat\r\nhello\x0cworld \nfoo\x85bar\rbaz\n"


def test_lines_split_on_newline_only_as_sacrebleu_does(cli, tmp_path):
    h, r = tmp_path / "h.txt", tmp_path / "r.txt"
    h.write_bytes(ODD_BREAKS.encode("utf-8"))
    r.write_bytes(b"the cat sat on a mat\r\nhello there world\nfoo bar baz")  # no final newline
    doc = score_json(cli, tmp_path, h, r)
    assert doc["n_samples"] == 3
    assert doc["metrics"] == pytest.approx(sacrebleu_cli(h, r), abs=1e-6)


BOM = "\ufeff"
# Each case: the hypothesis and the reference file's text, one quirk each, as an editor or a pipeline writes it.
CLI_CASES = {
    "bom": (BOM + "\n".join(HYPS) + "\n", BOM + "\n".join(REFS) + "\n"),
    "bom-hyps-only": (BOM + "\n".join(HYPS) + "\n", "\n".join(REFS) + "\n"),
    "crlf": ("\r\n".join(HYPS) + "\r\n", "\r\n".join(REFS) + "\r\n"),
    "u2028": ("\n".join(h.replace(" ", "\u2028", 1) for h in HYPS) + "\n", "\n".join(REFS) + "\u2028\n"),
    "trailing-whitespace": ("\n".join(h + " \t " for h in HYPS) + "\n", "\n".join(" " + r + "  " for r in REFS)),
    "empty-lines": (f"{HYPS[0]}\n\n{HYPS[2]}\n", f"{REFS[0]}\n{REFS[1]}\n\n"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_text_is_read_as_sacrebleus_command_line_reads_it(cli, tmp_path, case):
    """Scores equal what `sacrebleu REFS -i HYPS` itself prints on the same bytes: its command line keeps
    a byte-order mark (2.6.0 opens files as plain utf-8), ends lines at "\n" alone and strips each line's
    trailing whitespace."""
    h, r = tmp_path / "h.txt", tmp_path / "r.txt"
    hyps, refs = CLI_CASES[case]
    h.write_bytes(hyps.encode("utf-8"))
    r.write_bytes(refs.encode("utf-8"))
    assert score_json(cli, tmp_path, h, r)["metrics"] == pytest.approx(sacrebleu_cli(h, r), abs=1e-6)


def test_empty_hypotheses_are_segments(cli, tmp_path):
    h, r = tmp_path / "h.txt", tmp_path / "r.txt"
    r.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    h.write_text("\n" * len(REFS), encoding="utf-8")  # every hypothesis empty: scored, 0.0 (sacrebleu agrees)
    doc = score_json(cli, tmp_path, h, r)
    assert doc["n_samples"] == 3 and doc["metrics"] == {"corpus_bleu": 0.0, "chrf": 0.0, "ter": 100.0}
    assert sacrebleu_cli(h, r) == {"corpus_bleu": 0.0, "chrf": 0.0, "ter": 100.0}
    h.write_text(f"{HYPS[0]}\n\n{HYPS[2]}\n", encoding="utf-8")  # one empty line among others
    doc = score_json(cli, tmp_path, h, r)
    assert doc["n_samples"] == 3
    assert doc["metrics"]["corpus_bleu"] == pytest.approx(BLEU().corpus_score([HYPS[0], "", HYPS[2]], [REFS]).score)


def write_bad(tmp_path, case):
    h, r = tmp_path / "h.txt", tmp_path / "r.txt"
    r.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    if case == "empty":
        h.write_bytes(b"")
        return h, r, "is empty"
    if case == "not utf-8":
        h.write_bytes("caf\xe9\n".encode("latin-1") + b"x\ny\n")
        return h, r, "is not UTF-8 (byte 0xe9 at offset 3)"
    if case == "line count":
        h.write_text("\n".join(HYPS[:2]) + "\n", encoding="utf-8")
        return h, r, "has 2 lines but reference file"
    h.write_text("\n".join(HYPS), encoding="utf-8")
    return h, tmp_path / "missing.txt", "does not exist"


@pytest.mark.parametrize("case", ["empty", "not utf-8", "line count", "missing refs"])
def test_bad_text_files_one_line_exit_2_nothing_written(cli, tmp_path, case):
    hyps, refs, needle = write_bad(tmp_path, case)
    code, _, err = cli("score", "--text", hyps, "--refs", refs, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["--text", "h.txt"], "--text needs --refs"),
    (["--checkpoint", "m.safetensors", "--refs", "r.txt"], "--refs goes with --text"),
    (["--text", "h.txt", "--refs", "r.txt", "--dataset", "oracle"], "drop --dataset"),
])
def test_text_flag_combinations(cli, tmp_path, args, needle):
    code, _, err = cli("score", *args)
    assert_one_line_error(code, err, needle)


RECIPE = """version = 1
dataset = {{ name = "oracle", vocab_size = 12, length = 8, n_train = 300, n_test = 100 }}
device = "cpu"
[model]
name = "{model}"
{extra}
[train]
steps = {steps}
batch_size = {batch}
[score]
metrics = ["perplexity", "nll-oracle", "bleu", "self-bleu", "distinct-n"]
n_samples = 50
"""


@pytest.fixture(scope="module")
def text_checkpoint(tmp_path_factory):
    from genbench.api import train

    root = tmp_path_factory.mktemp("text")
    recipe = root / "tiny-lstm.toml"
    recipe.write_text(RECIPE.format(model="lstm", extra="hidden = 8\nembedding = 4\nlayers = 1", steps=5, batch=32))
    record = train(str(recipe), runs=str(root / "runs"), quiet=True)
    return root, recipe, record


def test_text_run_record_and_score_checkpoint(cli, text_checkpoint, tmp_path):
    root, _, record = text_checkpoint
    assert record["family"] == "autoregressive" and 0 < record["metrics"]["nll_test"] < 3
    assert record["score"]["info"]["bleu"]["sacrebleu"].startswith("nrefs:100|")
    ckpt = f"{record['run_dir']}/model.safetensors"
    code, out, _ = cli("score", "--checkpoint", ckpt, "--metrics", "perplexity", "--json", tmp_path / "s.json")
    assert code == 0
    assert read_json(tmp_path / "s.json")["metrics"]["nll_test"] == pytest.approx(record["metrics"]["nll_test"])


def test_same_recipe_and_seed_same_numbers(text_checkpoint):
    from genbench.api import train

    root, recipe, record = text_checkpoint
    again = train(str(recipe), runs=str(root / "again"), quiet=True)
    assert again["metrics"] == record["metrics"]


def test_vocabulary_mismatch_between_checkpoint_and_dataset(cli, text_checkpoint, tmp_path):
    import shutil

    _, _, record = text_checkpoint
    for name in ("model.safetensors", "model.json"):
        shutil.copy(f"{record['run_dir']}/{name}", tmp_path / name)
    config = json.loads((tmp_path / "model.json").read_text())
    vocab = config["hparams"]["vocab"]
    vocab[0], vocab[1] = vocab[1], vocab[0]  # same size, different symbols
    (tmp_path / "model.json").write_text(json.dumps(config))
    code, _, err = cli("score", "--checkpoint", tmp_path / "model.safetensors", "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "different vocabulary")
    assert not (tmp_path / "o.json").exists()


def test_text_samples_file_is_scored_and_checked(cli, tmp_path):
    import numpy as np

    from genbench.data.text import segments
    from genbench.metrics.distinct import distinct_n

    ds = load_dataset("oracle")
    ids = ds.test[:50].numpy()
    np.save(tmp_path / "ok.npy", ids)
    code, _, _ = cli("score", "--samples", tmp_path / "ok.npy", "--dataset", "oracle", "--metrics", "distinct-n,self-bleu",
                     "--json", tmp_path / "s.json")
    assert code == 0
    doc = read_json(tmp_path / "s.json")
    assert doc["metrics"]["distinct2"] == pytest.approx(distinct_n(segments(ds.test[:50], ds.vocab), 2))
    assert doc["info"]["self-bleu"]["sacrebleu"].startswith("nrefs:49|")
    np.save(tmp_path / "s.npy", np.full((4, 20), 250))
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "oracle", "--metrics", "distinct-n")
    assert_one_line_error(code, err, "must be token ids 0..199")


def test_text_model_on_a_non_text_dataset_is_refused(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\ndataset = "ring8"\n[model]\nname = "ngram"\n[score]\nmetrics = ["perplexity"]\n')
    code, _, err = cli("train", bad, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "'perplexity' does not apply")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("word_order, chrf_name", [(0, "chrF2"), (2, "chrF2++")])
def test_sacrebleu_verbose_line_and_names_are_sacrebleus(cli, tmp_path, word_order, chrf_name):
    """The BLEU line sacrebleu prints (n-gram precisions, BP, ratio, hyp_len, ref_len) and chrF under the name
    sacrebleu gives it, in the JSON and the printed summary, equal to sacrebleu's API's."""
    (tmp_path / "h.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n", encoding="utf-8")
    code, out, err = cli("score", "--text", tmp_path / "h.txt", "--refs", tmp_path / "r.txt", "--sacrebleu",
                         f"chrf-word-order={word_order}", "--json", tmp_path / "o.json")
    assert code == 0, err
    got = read_json(tmp_path / "o.json")["sacrebleu"]
    bleu, chrf, ter = BLEU(), CHRF(word_order=word_order), TER()
    for key, metric in (("corpus_bleu", bleu), ("chrf", chrf), ("ter", ter)):
        expected = metric.corpus_score(HYPS, [REFS])
        assert got[key]["name"] == expected.name
        assert got[key]["line"] == expected.format(signature=str(metric.get_signature()))
        assert f"  {got[key]['line']}\n" in out
    assert got["chrf"]["name"] == chrf_name
    b = bleu.corpus_score(HYPS, [REFS])
    assert (got["corpus_bleu"]["precisions"], got["corpus_bleu"]["bp"], got["corpus_bleu"]["ratio"]) == \
        (b.precisions, b.bp, b.ratio)
    assert (got["corpus_bleu"]["hyp_len"], got["corpus_bleu"]["ref_len"]) == (b.sys_len, b.ref_len)
    assert f"(BP = {b.bp:.3f} ratio = {b.ratio:.3f} hyp_len = {b.sys_len} ref_len = {b.ref_len})" in out
