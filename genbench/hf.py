"""A Hugging Face causal language model from a local folder, scored by bits per character and per
byte on a dataset's held-out text (genbench/metrics/bits_per_byte.py); the optional extra
`genbench[hf]` (transformers).

Nothing is unpickled: the folder must hold safetensors weights (`use_safetensors=True`; a folder
with only pytorch_model.bin is refused), nothing is downloaded (`local_files_only`), and no code
from the folder runs (`trust_remote_code=False`). The context length is found as
lm-evaluation-harness finds it: the config's n_positions, max_position_embeddings or n_ctx, else
the tokenizer's model_max_length, else 2048. The text starts from the tokenizer's BOS token
(its EOS where it has no BOS), as lm-evaluation-harness starts a rolling log-likelihood.
"""

from __future__ import annotations

import importlib.metadata
from contextlib import contextmanager
from pathlib import Path

import torch

from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.metrics.bits_per_byte import BitsPerByte, count_words, held_out_text, stream_nll

DEFAULT_LENGTH = 2048  # lm-evaluation-harness's, for a model that states none
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model", "spiece.model",
                   "vocab.txt")


def _one_line(e: Exception) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def causal_lm_classes() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names: set[str] = set()
    for v in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        names |= {v} if isinstance(v, str) else set(v)
    return names


@contextmanager
def hushed(transformers):
    """transformers' progress bars and warnings off while it loads: bad input gets genbench's one line."""
    log = transformers.utils.logging
    verbosity, bars = log.get_verbosity(), log.is_progress_bar_enabled()
    log.set_verbosity_error()
    log.disable_progress_bar()
    try:
        yield
    finally:
        log.set_verbosity(verbosity)
        if bars:
            log.enable_progress_bar()


def check_folder(path: str | Path) -> Path:
    """genbench's own reading of the folder, before transformers is needed: a folder, its config.json,
    and safetensors files whose headers cover their data (a truncated file would fail inside
    transformers with safetensors' raw error)."""
    from safetensors import SafetensorError, safe_open

    folder = Path(path)
    what = f"--hf-model {path}"
    if not folder.is_dir():
        raise GenbenchError(f"{what} is not a folder (expected a model saved by save_pretrained)")
    if not (folder / "config.json").is_file():
        raise GenbenchError(f"{what} has no config.json: not a Hugging Face model folder")
    for weights in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(weights), "pt"):
                pass  # opening reads and checks the header; no tensor is loaded
        except (SafetensorError, OSError) as e:
            raise GenbenchError(f"{what}: {weights.name} is not a complete safetensors file ({_one_line(e)})") from None
    return folder


def load_causal_lm(path: str | Path, device: torch.device):
    """(model, tokenizer) from a save_pretrained folder, refused in one line unless it is a causal LM."""
    check_folder(path)
    try:
        import transformers
    except ImportError:
        raise GenbenchError("--hf-model needs transformers: pip install 'genbench[hf]'") from None
    with hushed(transformers):
        return _load(transformers, path, device)


def _load(transformers, path: str | Path, device: torch.device):
    folder = Path(path)
    what = f"--hf-model {path}"
    try:
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GenbenchError(f"{what}: its config.json cannot be read ({_one_line(e)})") from None
    causal = causal_lm_classes()
    architectures = getattr(config, "architectures", None) or []
    if architectures and not set(architectures) & causal:
        raise GenbenchError(f"{what} holds a {', '.join(architectures)}, not a causal language model "
                            f"(model type {config.model_type!r}; e.g. GPT2LMHeadModel, LlamaForCausalLM)")
    if not any(folder.glob("*.safetensors")):
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLED)
        raise GenbenchError(f"{what} has no .safetensors weights" + (
            f", only {', '.join(pickled)}, which genbench never unpickles: re-save it with "
            "model.save_pretrained(dir, safe_serialization=True)" if pickled else ""))
    try:
        model, loading = transformers.AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, trust_remote_code=False, output_loading_info=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise GenbenchError(f"{what} cannot be loaded as a causal language model ({_one_line(e)})") from None
    if loading.get("missing_keys"):
        missing = sorted(loading["missing_keys"])
        raise GenbenchError(f"{what} lacks weights a causal LM needs ({', '.join(missing[:3])}"
                            f"{', …' if len(missing) > 3 else ''}): not a causal language model checkpoint")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        # (transformers would build an empty tokenizer from the model type alone)
        raise GenbenchError(f"{what} has no tokenizer files (one of {', '.join(TOKENIZER_FILES)}): "
                            "save the tokenizer beside the model with tokenizer.save_pretrained(dir)")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GenbenchError(f"{what}: its tokenizer cannot be loaded ({_one_line(e)})") from None
    model = model.to(device).eval()
    if device.type == "cpu":
        model = model.float()  # a bf16/fp16 checkpoint is read in full precision on the CPU
    return model, tokenizer


def context_length(model, tokenizer) -> int:
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        if isinstance(getattr(model.config, attr, None), int):
            return getattr(model.config, attr)
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and limit < 10**9 else DEFAULT_LENGTH


def score_hf_model(path: str | Path, dataset: Dataset, stride: int | None, device: torch.device) -> tuple[dict, dict]:
    """(metrics, info) of the causal LM in `path` on `dataset`'s held-out text."""
    model, tokenizer = load_causal_lm(path, device)
    window = context_length(model, tokenizer)
    stride = window if stride is None else stride  # lm-evaluation-harness's rolling windows
    if not 1 <= stride <= window:
        raise GenbenchError(f"--hf-stride must be in 1..{window} (the model's context length), got {stride}")
    begin = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if begin is None:
        raise GenbenchError(f"--hf-model {path}: its tokenizer has neither a BOS nor an EOS token to start the text from")
    text = held_out_text(dataset)
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    vocab = model.get_input_embeddings().num_embeddings
    if not ids or max(ids) >= vocab:
        raise GenbenchError(f"--hf-model {path}: its tokenizer " + (
            "turns the text into no tokens" if not ids else
            f"gives token id {max(ids)}, beyond the model's {vocab} embeddings") + ": tokenizer and model do not match")
    unk = tokenizer.unk_token_id
    if unk is not None and unk in ids:
        raise GenbenchError(f"--hf-model {path}: its tokenizer maps {ids.count(unk)} pieces of the text to its unknown "
                            f"token {tokenizer.unk_token!r}, so their bits would not be counted")
    nll = stream_nll(lambda x: model(input_ids=x.to(device)).logits, torch.tensor(ids), begin, window, stride,
                     model.config.vocab_size)
    windows = ("lm-evaluation-harness's rolling windows (stride = context)" if stride == window else
               f"overlapping windows advancing {stride} of {window} tokens (not lm-evaluation-harness's: it reads lower)")
    info = {"window": window, "stride": stride, "windows": windows, "tokens": len(ids), "characters": len(text),
            "bytes": len(text.encode("utf-8")), "words": count_words(text), "documents": 1,
            "model_type": model.config.model_type}
    return BitsPerByte.from_nll(nll, text, len(ids)), info


def library_versions() -> dict[str, str]:
    """transformers' and tokenizers' versions, for a result's `versions` (they set the tokens and the logits)."""
    return {name: importlib.metadata.version(name) for name in ("transformers", "tokenizers")}
