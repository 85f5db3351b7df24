"""One run = one recipe x one seed: train, checkpoint, score, and write the run record.

Layout: <runs>/<recipe id>/seed<N>/{model.safetensors, model.json, record.json}, and for the
recipe's first seed the artefact its plots are drawn from (genbench.artefacts). The record is
written last and atomically, so its presence means the run finished; `bench` skips a run whose
record exists with the same recipe hash and redoes any other.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import torch

from genbench import artefacts, distributed, seeds, train_state
from genbench.checkpoint import save_checkpoint
from genbench.claims import claim
from genbench.data import load_dataset
from genbench.env import hardware, resolve_device, seed_everything, versions
from genbench.io import atomic_write_json
from genbench.models import build_for
from genbench.recipes import Recipe, check_recipe
from genbench.scoring import evaluate
from genbench.training import fit

RECORD_SCHEMA = 1
ERROR = "error.txt"  # beside a run that failed: its recipe hash, the one-line reason, the traceback


def run_dir(runs: str | Path, recipe: Recipe, seed: int) -> Path:
    return Path(runs) / recipe.id / f"seed{seed}"


def existing_record(runs: str | Path, recipe: Recipe, seed: int) -> dict | None:
    path = run_dir(runs, recipe, seed) / "record.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if record.get("recipe_hash") == recipe.hash else None


def failure(runs: str | Path, recipe: Recipe, seed: int) -> str | None:
    """The one-line reason the current recipe's run failed, if its last attempt failed."""
    try:
        lines = (run_dir(runs, recipe, seed) / ERROR).read_text().splitlines()
    except OSError:
        return None
    return lines[1] if len(lines) > 1 and lines[0] == recipe.hash else None


def run_recipe(recipe: Recipe, seed: int, runs: str | Path = "runs", device: str | None = None,
               progress: bool = True, resume: bool = True, rerun: bool = True, plots: bool = True) -> dict | None:
    """Train and score one run under its claim (claims.py). With `rerun` False, a run whose current
    record exists once the claim is held is not trained again: None is returned. With `plots`, the
    recipe's first seed also writes its plot artefact (otherwise a leaderboard draws it later)."""
    dev = resolve_device(device or recipe.device)
    out = run_dir(runs, recipe, seed)
    started = time.perf_counter()
    dataset = load_dataset(recipe.dataset, recipe.dataset_params)
    check_recipe(recipe, dataset)  # before anything is written
    # Seeded after the checks, which may load things once per process: a run's numbers must not
    # depend on what ran before it in the same process (a bench, a worker).
    generator = seed_everything(seeds.training(seed), dev)
    model = build_for(recipe.model, dataset, recipe.model_params).to(dev)
    distributed.check(model, recipe.train.batch_size, len(dataset.train))
    state_key = f"{recipe.hash}/{seed}/{dev.type}" + (f"/x{distributed.size()}" if distributed.size() > 1 else "")
    if distributed.rank() > 0:  # a torchrun helper rank: trains its share, rank 0 writes everything
        fit(model, dataset, recipe.train, generator, False, state_dir=out if resume else None, state_key=state_key)
        return None
    with claim(out):
        if not rerun and existing_record(runs, recipe, seed) is not None:
            return None  # another process finished it while this one waited to start
        for name in artefacts.NAMES:  # an earlier run's: they would show beside this run's record
            (out / name).unlink(missing_ok=True)
        train_info = fit(model, dataset, recipe.train, generator, progress, state_dir=out if resume else None,
                         state_key=state_key)
        model.eval()

        save_checkpoint(model, out / "model.safetensors", {
            "dataset": recipe.dataset, "dataset_params": recipe.dataset_params,
            "recipe": recipe.id, "recipe_hash": recipe.hash, "seed": seed, "scoring_seed": seeds.scoring(seed),
        })
        # Scoring draws from its own stream, so a metric's samples do not depend on training length.
        score_gen = torch.Generator(device=dev).manual_seed(seeds.scoring(seed))
        scores = evaluate(dataset, recipe.metrics, model=model, n_samples=recipe.n_samples, generator=score_gen,
                          progress=progress, options=recipe.score_options())
        if plots and seed == recipe.seeds[0]:  # the seed the plots show
            artefacts.draw(out, model, dataset, artefacts.title(recipe.id, seed), dev)
        record = {
            "schema": RECORD_SCHEMA,
            "recipe": recipe.id,
            "recipe_version": recipe.version,
            "recipe_hash": recipe.hash,
            "dataset": recipe.dataset,
            "model": recipe.model,
            "family": model.family,
            "seed": seed,
            "seeds": seeds.streams(seed),
            "metrics": scores["metrics"],
            "score": {"metrics": scores["metric_names"], "n_samples": scores["n_samples"], "info": scores["info"],
                      "unscored": scores["unscored"], "wall_time_s": scores["wall_time_s"]},
            "train": {k: v for k, v in train_info.items()},
            "wall_time_s": time.perf_counter() - started,
            "device": dev.type,
            "hardware": hardware(dev),
            "versions": versions(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "checkpoint": "model.safetensors",
        }
        atomic_write_json(out / "record.json", record)
        train_state.clear(out)  # the run is complete: nothing left to resume
    return record
