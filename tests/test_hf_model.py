"""`genbench score --hf-model DIR`: a Hugging Face causal LM's bits per character and per byte on a
text dataset's held-out text, checked against a direct transformers loop; bad folders refused."""

import math

import pytest
import torch

from genbench.metrics.bits_per_byte import window_plan
from tests.conftest import REPO, assert_one_line_error, read_json

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CORPUS = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
WINDOW = 512


def tiny_gpt2(folder, text: str):
    """A randomly initialised 1-layer GPT-2 and a byte-level BPE tokenizer built here (no download)."""
    tok = tokenizers.ByteLevelBPETokenizer()
    tok.train_from_iterator(text.splitlines(), vocab_size=2000, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>")
    fast.save_pretrained(folder)
    config = transformers.GPT2Config(vocab_size=len(fast), n_positions=WINDOW, n_embd=16, n_layer=1, n_head=2,
                                     bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(folder)  # safetensors
    return model.eval(), fast


@pytest.fixture(scope="module")
def held_out():
    """shakespeare-char's test text, cut here as its docstring says: the last 10%, whole 128-char rows."""
    if not CORPUS.is_file():
        pytest.skip(f"{CORPUS} is missing")
    text = CORPUS.read_text()
    test = text[round(len(text) * 0.9):]
    return text[:300_000], test[:len(test) // 128 * 128]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, held_out):
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    model, tokenizer = tiny_gpt2(folder, held_out[0])
    return folder, model, tokenizer


def direct_loop(model, tokenizer, text: str, window: int, stride: int) -> float:
    """Nats of `text`, one window at a time: each window is the `window` tokens (BOS first) before its
    end, ends advance by `stride` after the first, and a window scores the tokens after the last end."""
    s = torch.tensor([tokenizer.bos_token_id] + tokenizer(text)["input_ids"])
    nll, scored, end = 0.0, 1, min(window, len(s) - 1)  # s[0] (BOS) is never predicted
    while scored < len(s):
        start = max(0, end - window)
        with torch.no_grad():
            logp = model(s[None, start:end]).logits[0].log_softmax(-1)
        i = torch.arange(scored, end + 1)  # logits at position i - 1 - start predict s[i]
        nll -= logp[i - 1 - start, s[i]].double().sum().item()
        scored, end = end + 1, min(end + stride, len(s) - 1)
    return nll


def test_bits_equal_a_direct_transformers_loop(cli, tmp_path, tiny, held_out):
    folder, model, tokenizer = tiny
    code, out, err = cli("score", "--hf-model", folder, "--dataset", "shakespeare-char", "--hf-stride", 384,
                         "--json", tmp_path / "o.json", "-q")
    assert code == 0, err
    result = read_json(tmp_path / "o.json")
    text = held_out[1]
    nll = direct_loop(model, tokenizer, text, WINDOW, 384)
    bits = nll / math.log(2)
    assert result["metrics"]["bits_per_char"] == pytest.approx(bits / len(text), rel=1e-6)  # float32 logits
    assert result["metrics"]["bits_per_byte"] == pytest.approx(bits / len(text.encode()), rel=1e-6)
    info = result["info"]["bits-per-byte"]
    assert (info["window"], info["stride"], info["characters"]) == (WINDOW, 384, len(text))
    assert "bits_per_char" in out and result["hf_model"] == str(folder)


def test_one_window_equals_transformers_own_loss(tiny):
    """A text shorter than the context is one window: the loss transformers computes from labels."""
    from genbench.metrics.bits_per_byte import stream_nll

    _, model, tokenizer = tiny
    ids = tokenizer("Speak, speak. You are all resolved rather to die than to famish?")["input_ids"]
    s = torch.tensor([[tokenizer.bos_token_id] + ids])
    with torch.no_grad():
        loss = model(s, labels=s).loss.item()  # mean over the len(ids) predicted tokens
    ours = stream_nll(lambda x: model(input_ids=x).logits, torch.tensor(ids), tokenizer.bos_token_id, WINDOW, 64,
                      len(tokenizer))
    assert ours == pytest.approx(loss * len(ids), rel=1e-5)


@pytest.mark.parametrize("n, window, stride", [(1, 4, 2), (4, 4, 2), (5, 4, 4), (11, 4, 3), (100, 16, 1), (9, 8, 8)])
def test_windows_score_every_token_once_within_the_context(n, window, stride):
    scored = []
    for start, end, first in window_plan(n, window, stride):
        assert end - start <= window and start <= first < end
        scored += range(first, end)
        if end > window:  # past the first window, every scored token sees at least window - stride tokens
            assert first - start >= window - stride
    assert scored == list(range(n))


def test_default_stride_is_the_whole_context(cli, tmp_path, tiny, monkeypatch):
    import genbench.hf

    seen = {}
    monkeypatch.setattr(genbench.hf, "stream_nll", lambda *a: seen.setdefault("args", a) and 1.0)
    code, _, err = cli("score", "--hf-model", tiny[0], "--dataset", "shakespeare-char", "--json", tmp_path / "o.json")
    assert code == 0, err
    assert seen["args"][3:5] == (WINDOW, WINDOW)
    info = read_json(tmp_path / "o.json")["info"]["bits-per-byte"]
    assert info["stride"] == WINDOW and "lm-evaluation-harness's rolling windows" in info["windows"]


def rolling_windows(tokens: list[int], prefix: int, max_len: int):
    """lm-evaluation-harness's get_rolling_token_windows with context_len = 1, as loglikelihood_rolling
    calls it: (input, targets) pairs, the first from the prefix token, then disjoint blocks of max_len."""
    first = min(max_len, len(tokens))
    yield [prefix] + tokens[:first - 1], tokens[:first]
    done = first
    while done < len(tokens):
        n = min(len(tokens) - done, max_len)
        end = done + n
        yield tokens[max(0, end - max_len - 1):end - 1], tokens[end - n:end]
        done = end


def test_default_equals_lm_eval_rolling_loglikelihood_and_its_perplexities(cli, tmp_path, tiny, held_out):
    """With no --hf-stride the nats are lm-evaluation-harness's loglikelihood_rolling of the text, and
    byte_perplexity, word_perplexity, bits_per_byte its perplexity task's aggregates of them."""
    import re

    folder, model, tokenizer = tiny
    code, _, err = cli("score", "--hf-model", folder, "--dataset", "shakespeare-char", "--json", tmp_path / "o.json",
                       "-q")
    assert code == 0, err
    result = read_json(tmp_path / "o.json")
    text = held_out[1]
    ids = tokenizer(text)["input_ids"]
    nll = 0.0
    for inputs, targets in rolling_windows(ids, tokenizer.bos_token_id, WINDOW):
        with torch.no_grad():
            logp = model(torch.tensor([inputs])).logits[0].log_softmax(-1)
        logp = logp[-len(targets):]  # the last len(targets) positions predict the targets
        nll -= logp[torch.arange(len(targets)), torch.tensor(targets)].double().sum().item()
    m, words, n_bytes = result["metrics"], len(re.split(r"\s+", text)), len(text.encode("utf-8"))
    assert m["bits_per_byte"] == pytest.approx(nll / n_bytes / math.log(2), rel=1e-6)
    assert m["byte_perplexity"] == pytest.approx(math.exp(nll / n_bytes), rel=1e-6)
    assert m["word_perplexity"] == pytest.approx(math.exp(nll / words), rel=1e-5)
    assert m["token_perplexity"] == pytest.approx(math.exp(nll / len(ids)), rel=1e-5)
    info = result["info"]["bits-per-byte"]
    assert (info["words"], info["tokens"], info["documents"]) == (words, len(ids), 1)
    assert result["versions"]["transformers"] == transformers.__version__
    assert result["versions"]["tokenizers"] == tokenizers.__version__


def save_bert(folder):
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32)
    transformers.BertModel(config).save_pretrained(folder)


@pytest.fixture(autouse=True)
def _no_progress_bars():
    """transformers' own progress bars while the test saves models, kept out of the CLI's stderr."""
    log = transformers.utils.logging
    log.disable_progress_bar()
    yield
    log.enable_progress_bar()


@pytest.mark.parametrize("case, needle", [
    ("missing", "is not a folder"),
    ("no-config", "has no config.json"),
    ("bert", "holds a BertModel, not a causal language model"),
    ("pickled", "only pytorch_model.bin, which genbench never unpickles"),
    ("no-tokenizer", "has no tokenizer files"),
    ("other-tokenizer", "beyond the model's 50 embeddings"),
    ("not-text", "dataset 'ring8' is not text"),
    ("no-dataset", "--hf-model needs --dataset"),
    ("metrics", "drop --metrics"),
    ("stride", "--hf-stride must be in 1..512"),
    ("n-samples", "--n-samples does not apply to --hf-model"),
])
def test_bad_hf_model_input(cli, tmp_path, tiny, case, needle, monkeypatch):
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))  # nothing may be unpickled
    folder = tmp_path / "model"
    args = ["--dataset", "shakespeare-char"]
    if case == "missing":
        pass
    elif case == "no-config":
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"")
    elif case == "bert":
        save_bert(folder)
    elif case == "other-tokenizer":  # a causal LM whose vocabulary is not its tokenizer's
        config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=1, n_head=2)
        transformers.GPT2LMHeadModel(config).save_pretrained(folder)
        tiny[2].save_pretrained(folder)
    elif case in ("pickled", "no-tokenizer"):
        tiny[1].save_pretrained(folder)
        if case == "pickled":  # what older transformers saved: the weights as a pickle
            tiny[2].save_pretrained(folder)
            (folder / "model.safetensors").unlink()
            torch.save(tiny[1].state_dict(), folder / "pytorch_model.bin")
    else:
        folder = tiny[0]
        args = {"not-text": ["--dataset", "ring8"], "no-dataset": [], "metrics": args + ["--metrics", "fid"],
                "stride": args + ["--hf-stride", 513], "n-samples": args + ["--n-samples", 10]}[case]
    code, _, err = cli("score", "--hf-model", folder, *args, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.json").exists()
    assert not loads


def test_without_transformers_the_error_says_what_to_install(cli, tmp_path, tiny, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    code, _, err = cli("score", "--hf-model", tiny[0], "--dataset", "shakespeare-char")
    assert_one_line_error(code, err, "pip install 'genbench[hf]'")
