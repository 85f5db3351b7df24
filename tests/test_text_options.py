"""`score --text` with several references, sacrebleu's options, sentence scores and the paired
bootstrap test: every number and signature equals sacrebleu's Python API on the same strings."""

import pytest
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.significance import PairedTest

from genbench.api import score
from tests.conftest import assert_one_line_error, read_json

HYPS = ["The cat sat on the mat.", "A dog barked at the Moon!", "hello world", "It is raining , isn't it?",
        "Colourless green ideas sleep furiously."]
REFS = ["the cat sat on a mat .", "The dog barked at the moon.", "Hello there, world!", "It's raining, isn't it?",
        "Colorless green ideas sleep furiously."]
REFS2 = ["A cat was sitting on the mat.", "a dog barked at the moon", "hello, world", "It is raining, is it not?",
         "Green ideas without colour sleep furiously."]
BASELINE = ["the cat is on the mat", "a dog at the moon", "hi world", "rain", "green ideas sleep"]


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, lines in (("h", HYPS), ("r", REFS), ("r2", REFS2), ("b", BASELINE)):
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def expected(refs, bleu=None, chrf=None, ter=None):
    """sacrebleu's own corpus scores, signatures and sentence scores."""
    metrics = {"corpus_bleu": BLEU(**bleu or {}), "chrf": CHRF(**chrf or {}), "ter": TER(**ter or {})}
    values = {k: m.corpus_score(HYPS, refs).score for k, m in metrics.items()}
    signatures = {k: str(m.get_signature()) for k, m in metrics.items()}
    sentence_bleu = BLEU(**bleu or {}, effective_order=True)
    one = {"bleu": sentence_bleu, "chrf": metrics["chrf"], "ter": metrics["ter"]}
    sentences = {k: [m.sentence_score(h, [r[i] for r in refs]).score for i, h in enumerate(HYPS)]
                 for k, m in one.items()}
    signatures["sentence_bleu"] = str(sentence_bleu.get_signature())
    return values, signatures, sentences


def check(doc, refs, **options):
    values, signatures, sentences = expected(refs, **options)
    assert doc["metrics"] == pytest.approx(values, abs=1e-9)
    assert doc["info"]["sacrebleu"] == signatures
    assert set(doc["sentences"]) == set(sentences)
    for key, scores in sentences.items():
        assert doc["sentences"][key] == pytest.approx(scores, abs=1e-9), key


@pytest.mark.parametrize("how", ["two files after one --refs", "--refs repeated"])
def test_several_references_equal_sacrebleu(cli, files, tmp_path, how):
    refs = [files["r"], files["r2"]]
    flags = ["--refs", *refs] if how.startswith("two") else ["--refs", refs[0], "--refs", refs[1]]
    code, out, err = cli("score", "--text", files["h"], *flags, "--json", tmp_path / "s.json")
    assert code == 0, err
    doc = read_json(tmp_path / "s.json")
    assert doc["refs"] == [str(r) for r in refs] and doc["n_samples"] == len(HYPS)
    assert "nrefs:2|" in out
    check(doc, [REFS, REFS2])


OPTIONS = [  # (--sacrebleu items, sacrebleu keywords per metric)
    (["tokenize=intl"], {"bleu": {"tokenize": "intl"}}),
    (["tokenize=char"], {"bleu": {"tokenize": "char"}}),
    (["tokenize=none"], {"bleu": {"tokenize": "none"}}),
    (["lowercase"], {"bleu": {"lowercase": True}}),
    (["smooth-method=floor", "smooth-value=0.3"], {"bleu": {"smooth_method": "floor", "smooth_value": 0.3}}),
    (["smooth-method=add-k", "smooth-value=2"], {"bleu": {"smooth_method": "add-k", "smooth_value": 2.0}}),
    (["smooth-method=none"], {"bleu": {"smooth_method": "none"}}),
    (["chrf-word-order=2"], {"chrf": {"word_order": 2}}),
    (["chrf-char-order=4", "chrf-beta=1"], {"chrf": {"char_order": 4, "beta": 1}}),
    (["chrf-whitespace", "chrf-lowercase=true"], {"chrf": {"whitespace": True, "lowercase": True}}),
    (["chrf-eps-smoothing"], {"chrf": {"eps_smoothing": True}}),
    (["ter-case-sensitive", "ter-no-punct"], {"ter": {"case_sensitive": True, "no_punct": True}}),
    (["ter-normalized", "ter-asian-support"], {"ter": {"normalized": True, "asian_support": True}}),
]


@pytest.mark.parametrize("items, keywords", OPTIONS, ids=[" ".join(o[0]) for o in OPTIONS])
def test_each_sacrebleu_option_equals_sacrebleu(files, items, keywords):
    doc = score(text=str(files["h"]), refs=[str(files["r"]), str(files["r2"])], sacrebleu=items)
    check(doc, [REFS, REFS2], **keywords)
    default = expected([REFS, REFS2])[1]
    changed = {k for k in default if doc["info"]["sacrebleu"][k] != default[k]}
    assert changed, "the option is recorded in a signature"


def test_python_dict_equals_command_line_items(cli, files, tmp_path):
    code, _, err = cli("score", "--text", files["h"], "--refs", files["r"], "--sacrebleu", "tokenize=intl",
                       "--sacrebleu", "chrf-word-order=2", "--sacrebleu", "lowercase", "--json", tmp_path / "s.json")
    assert code == 0, err
    from_cli = read_json(tmp_path / "s.json")
    from_python = score(text=str(files["h"]), refs=str(files["r"]),
                        sacrebleu={"tokenize": "intl", "chrf_word_order": 2, "lowercase": True})
    assert from_python["metrics"] == from_cli["metrics"] and from_python["info"] == from_cli["info"]
    check(from_cli, [REFS], bleu={"tokenize": "intl", "lowercase": True}, chrf={"word_order": 2})


@pytest.mark.parametrize("n", [None, 200])
def test_paired_bootstrap_equals_sacrebleu(cli, files, tmp_path, n):
    extra = [] if n is None else ["--sacrebleu", f"paired-bs-n={n}"]
    code, out, err = cli("score", "--text", files["h"], "--refs", files["r"], files["r2"], "--compare", files["b"],
                         "--sacrebleu", "chrf-word-order=2", *extra, "--json", tmp_path / "s.json")
    assert code == 0, err
    assert f"paired bootstrap against {files['b']}" in out
    doc = read_json(tmp_path / "s.json")
    assert doc["compare"] == str(files["b"])
    metrics = {"BLEU": BLEU(), "chrF": CHRF(word_order=2), "TER": TER()}
    signatures, scores = PairedTest([("baseline", BASELINE), ("system", HYPS)], metrics, references=[REFS, REFS2],
                                    test_type="bs", n_samples=n or 0)()
    test = doc["paired_bootstrap"]
    for key, name in zip(("corpus_bleu", "chrf", "ter"), ("BLEU", "chrF2++", "TER"), strict=True):
        base, mine = scores[name]
        assert test[key]["system"] == pytest.approx(mine.score) == pytest.approx(doc["metrics"][key])
        assert test[key]["baseline"] == pytest.approx(base.score)
        assert (test[key]["p_value"], test[key]["system_mean"], test[key]["system_ci"]) == pytest.approx(
            (mine.p_value, mine.mean, mine.ci))
        assert (test[key]["baseline_mean"], test[key]["baseline_ci"]) == pytest.approx((base.mean, base.ci))
        assert test["signatures"][key] == str(signatures[name])
        assert f"bs:{n or 1000}|" in test["signatures"][key] and "seed:12345" in test["signatures"][key]
    assert test["corpus_bleu"]["p_value"] < 0.05  # a clearly better system


@pytest.mark.parametrize("n", [None, 300])
def test_confidence_equals_sacrebleu(cli, files, tmp_path, n):
    """--sacrebleu confidence is sacrebleu's --confidence: corpus_score(n_bootstrap=N)'s mean and 95%
    half-width for each metric, its line (μ = mean ± ci) and its signature (bs, seed) as sacrebleu's."""
    extra = [] if n is None else ["--sacrebleu", f"confidence-n={n}"]
    code, out, err = cli("score", "--text", files["h"], "--refs", files["r"], files["r2"], "--sacrebleu", "confidence",
                         *extra, "--json", tmp_path / "s.json")
    assert code == 0, err
    doc = read_json(tmp_path / "s.json")
    for key, metric in (("corpus_bleu", BLEU()), ("chrf", CHRF()), ("ter", TER())):
        want = metric.corpus_score(HYPS, [REFS, REFS2], n_bootstrap=n or 1000)
        got = doc["confidence"][key]
        assert (got["mean"], got["ci"], got["resamples"]) == (pytest.approx(want._mean), pytest.approx(want._ci),
                                                              n or 1000)
        assert doc["metrics"][key] == pytest.approx(want.score)
        signature = str(metric.get_signature())
        assert doc["info"]["sacrebleu"][key] == signature and f"bs:{n or 1000}|" in signature
        assert doc["sacrebleu"][key]["line"] == want.format(signature=signature)
        assert "μ = " in doc["sacrebleu"][key]["line"] and doc["sacrebleu"][key]["line"] in out
    assert 0 < doc["confidence"]["corpus_bleu"]["ci"] < 50


BAD = [  # (flags, what the one line says)
    (["--sacrebleu", "tokenise=intl"], "unknown sacrebleu option 'tokenise'", "did you mean 'tokenize'"),
    (["--sacrebleu", "tokenize=intll"], "unknown value 'intll'", "did you mean 'intl'"),
    (["--sacrebleu", "smooth-method=expo"], "unknown value 'expo'", "did you mean 'exp'"),
    (["--sacrebleu", "chrf-word-order=two"], "chrf-word-order must be an integer, got 'two'"),
    (["--sacrebleu", "chrf-beta=1.5"], "chrf-beta must be an integer"),
    (["--sacrebleu", "chrf-char-order=-1"], "chrf-char-order must be >= 0"),
    (["--sacrebleu", "chrf-char-order=0"], "both 0"),
    (["--sacrebleu", "tokenize"], "tokenize needs a value"),
    (["--sacrebleu", "lowercase=maybe"], "lowercase is true or false"),
    (["--sacrebleu", "smooth-value=0.1"], "smooth-value applies to smooth-method floor or add-k, not 'exp'"),
    (["--sacrebleu", "smooth-method=floor", "--sacrebleu", "smooth-value=nan"], "smooth-value must be > 0"),
    (["--sacrebleu", "paired-bs-n=100"], "paired-bs-n goes with --compare"),
    (["--sacrebleu", "paired-bs-n=0", "--compare", "b.txt"], "paired-bs-n must be >= 1"),
    (["--sacrebleu", "confidence-n=100"], "confidence-n goes with confidence"),
    (["--sacrebleu", "confidence", "--sacrebleu", "confidence-n=1"], "confidence-n must be >= 2"),
    (["--sacrebleu", "confidence", "--bootstrap", "10"], "--sacrebleu confidence"),
    (["--compare", "short.txt"], "--compare file", "has 2 lines but reference file"),
    (["--refs", "short.txt"], "has 5 lines but reference file", "short.txt has 2"),
]


@pytest.mark.parametrize("case", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_sacrebleu_input_one_line_exit_2_nothing_written(cli, files, tmp_path, case):
    args, *needles = case
    (tmp_path / "short.txt").write_text("a\nb\n", encoding="utf-8")
    args = [tmp_path / a if a.endswith(".txt") else a for a in args]
    code, _, err = cli("score", "--text", files["h"], "--refs", files["r"], *args, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "o.json").exists()


def test_a_tokenizer_without_its_extra_is_one_line(cli, files, tmp_path):
    try:
        import MeCab  # noqa: F401
        pytest.skip("MeCab is installed: the Japanese tokenizer builds")
    except ImportError:
        pass
    code, _, err = cli("score", "--text", files["h"], "--refs", files["r"], "--sacrebleu", "tokenize=ja-mecab",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "sacrebleu cannot build tokenizer 'ja-mecab'", "pip install sacrebleu[ja]")
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("flag", [["--sacrebleu", "lowercase"], ["--compare", "b.txt"]])
def test_text_options_without_text_are_refused(cli, flag):
    code, _, err = cli("score", "--samples", "x.npy", "--dataset", "digits", *flag)
    assert_one_line_error(code, err, f"{flag[0]} goes with --text")
