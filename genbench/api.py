"""The Python API. Each function is one CLI command, with keyword arguments named as its flags
(`genbench score --n-samples 100` is `genbench.score(n_samples=100)`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from genbench.errors import GenbenchError

SAMPLE_SUFFIXES = (".npy", ".npz")


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def train(recipe: str, seed: int | None = None, device: str | None = None, runs: str = "runs",
          baselines: str | None = None, quiet: bool = False) -> dict:
    """Train one recipe with one seed (default: its first); writes checkpoint and run record."""
    from genbench.recipes import load_recipe
    from genbench.runs import run_dir, run_recipe

    r = load_recipe(recipe, baselines)
    seed = r.seeds[0] if seed is None else seed
    if seed < 0:
        raise GenbenchError(f"--seed must be >= 0, got {seed}")
    record = run_recipe(r, seed, runs=runs, device=device, progress=not quiet)
    record["run_dir"] = str(run_dir(runs, r, seed))
    return record


def load_samples(path: str | Path) -> np.ndarray:
    """An array from .npy/.npz (never unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise GenbenchError(f"samples file {path} does not exist")
    if path.suffix not in SAMPLE_SUFFIXES:
        raise GenbenchError(f"samples file {path} must be one of {', '.join(SAMPLE_SUFFIXES)}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise GenbenchError(f"samples file {path} cannot be read as {path.suffix} ({e})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = list(data.keys())
            if not names:
                raise GenbenchError(f"samples file {path} holds no arrays")
            if len(names) > 1 and "samples" not in names:
                raise GenbenchError(f"samples file {path} holds several arrays ({', '.join(names)}); name one 'samples'")
            data = data["samples" if "samples" in names else names[0]]
    if data.dtype.kind not in "fiub":
        raise GenbenchError(f"samples file {path} holds dtype {data.dtype}; expected numbers")
    return data


def score_text(text: str, refs: str | None, json: str | None = None) -> dict:
    """Corpus BLEU and chrF (sacrebleu) of system outputs against references, one segment per line."""
    from genbench import env
    from genbench.io import atomic_write_json
    from genbench.metrics.translation import CorpusTranslation

    if refs is None:
        raise GenbenchError("--text needs --refs FILE (the references, one segment per line)")
    start = time.perf_counter()
    values, signatures, n = CorpusTranslation.score_files(text, refs)
    out = {"metrics": values, "metric_names": [CorpusTranslation.name], "info": {CorpusTranslation.name: signatures},
           "samples": n, "dataset": None, "text": str(text), "refs": str(refs), "versions": env.versions(),
           "wall_time_s": time.perf_counter() - start}
    if json is not None:
        atomic_write_json(json, out)
    return out


def score(checkpoint: str | None = None, samples: str | None = None, dataset: str | None = None,
          metrics: str | list[str] | None = None, json: str | None = None, n_samples: int | None = None,
          seed: int = 0, device: str = "auto", text: str | None = None, refs: str | None = None,
          quiet: bool = False) -> dict:
    """Score a checkpoint (sampled here) or a file of samples against a dataset's test split, or a
    file of system outputs (--text) against a file of references (--refs)."""
    from genbench import env
    from genbench.checkpoint import load_checkpoint
    from genbench.data import check_samples, load_dataset
    from genbench.io import atomic_write_json
    from genbench.scoring import evaluate

    if sum(x is not None for x in (checkpoint, samples, text)) != 1:
        raise GenbenchError("give exactly one of --checkpoint FILE, --samples FILE or --text FILE")
    if json is not None and Path(json).is_dir():
        raise GenbenchError(f"--json {json} is a folder; give a file path")
    if text is not None or refs is not None:
        if text is None:
            raise GenbenchError("--refs goes with --text HYPS (system outputs, one segment per line)")
        if dataset is not None or metrics is not None:
            raise GenbenchError("--text is scored against --refs with corpus BLEU and chrF; drop --dataset/--metrics")
        return score_text(text, refs, json)
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()] or None
    if n_samples is not None and n_samples < 1:
        raise GenbenchError(f"--n-samples must be positive, got {n_samples}")
    dev = env.resolve_device(device)
    model, x = None, None
    if checkpoint is not None:
        model, config = load_checkpoint(checkpoint, device=str(dev))
        ds_name = config.get("dataset")
        if dataset is not None and dataset != ds_name:
            raise GenbenchError(f"checkpoint {checkpoint} was trained on {ds_name!r}, not {dataset!r}")
        data = load_dataset(ds_name, config.get("dataset_params", {}))
        if tuple(data.shape) != tuple(model.data_shape):
            raise GenbenchError(f"checkpoint {checkpoint} has data shape {model.data_shape}; {ds_name!r} has {data.shape}")
        if data.vocab is not None and model.hparams.get("vocab") != data.vocab:
            raise GenbenchError(f"checkpoint {checkpoint} has a different vocabulary from dataset {ds_name!r} "
                                f"({len(model.hparams.get('vocab') or [])} vs {len(data.vocab)} symbols)")
        source = {"checkpoint": str(checkpoint)}
    else:
        if dataset is None:
            raise GenbenchError("--samples needs --dataset NAME to score against")
        data = load_dataset(dataset)
        x = check_samples(load_samples(samples), data, what=f"samples in {samples}")
        source = {"samples_file": str(samples)}
    generator = torch.Generator(device=dev).manual_seed(seed)
    result = evaluate(data, metrics, model=model, samples=x, n_samples=n_samples, generator=generator,
                      progress=not quiet)
    out = {"metrics": result["metrics"], "metric_names": result["metric_names"], "info": result["info"],
           "samples": result["samples"],
           "dataset": data.name, **source, "seed": seed, "versions": env.versions(), "device": dev.type,
           "wall_time_s": result["wall_time_s"]}
    if json is not None:
        atomic_write_json(json, out)
    return out


def bench(suite: str, runs: str = "runs", leaderboards: str = "leaderboards", device: str | None = None,
          baselines: str | None = None, plots: bool = True, quiet: bool = False) -> dict:
    """Run every recipe x seed of a suite that has no current record, then rebuild its tables."""
    from genbench.leaderboard import build_leaderboard
    from genbench.recipes import check_recipe_metrics, load_suite
    from genbench.runs import existing_record, run_recipe

    start = time.perf_counter()
    _, recipes = load_suite(suite, baselines)
    for r in recipes:  # refuse a bad suite before any training
        check_recipe_metrics(r)
    todo = [(r, s) for r in recipes for s in r.seeds]
    done = 0
    for i, (r, s) in enumerate(todo, 1):
        if existing_record(runs, r, s) is not None:
            _say(not quiet, f"[{i}/{len(todo)}] {r.id} seed {s}: record exists, skipped")
            continue
        t = time.perf_counter()
        record = run_recipe(r, s, runs=runs, device=device, progress=not quiet)
        done += 1
        shown = ", ".join(f"{k}={v:.4g}" for k, v in record["metrics"].items())
        _say(not quiet, f"[{i}/{len(todo)}] {r.id} seed {s}: {shown} ({time.perf_counter() - t:.1f}s)")
    table = build_leaderboard(suite, runs=runs, out=leaderboards, baselines=baselines, plots=plots)
    table.update({"ran": done, "skipped": len(todo) - done, "wall_time_s": time.perf_counter() - start})
    return table


def leaderboard(suite: str, runs: str = "runs", leaderboards: str = "leaderboards",
                baselines: str | None = None, plots: bool = True) -> dict:
    """Rebuild a suite's Markdown and CSV tables from run records alone."""
    from genbench.leaderboard import build_leaderboard

    return build_leaderboard(suite, runs=runs, out=leaderboards, baselines=baselines, plots=plots)


def gate(baseline: str, results: str, tolerance: list[str] | dict[str, float] | None = None,
         allow_missing: bool = False):
    """Compare results (records folder, record.json or CSV) with a baseline CSV."""
    from genbench.leaderboard.gate import gate as run_gate

    return run_gate(baseline, results, tolerance=tolerance, allow_missing=allow_missing)
