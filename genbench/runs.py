"""One run = one recipe x one seed: train, checkpoint, score, and write the run record.

Layout: <runs>/<recipe id>/seed<N>/{model.safetensors, model.json, record.json}, and for the
recipe's first seed the artefact its plots are drawn from (genbench.artefacts). The record is
written last and atomically, sealed with a digest of its content (genbench.record_file), so its
presence means the run finished; `bench` skips a run whose record exists with the same recipe hash
and redoes any other.

A run is keyed by the recipe hash. A baselines recipe owns its id, so its runs replace a record of an
older hash (the recipe changed: that record is stale). A recipe file from outside the baselines folder
only borrows an id, <folder>/<stem>, which may be a baselines recipe's: its runs never replace a
record of another hash that another recipe wrote (the baselines one, or another file), and a
baselines recipe's runs never replace a record such a file wrote; both are refused
(`check_replaceable`), naming the two hashes. Its own stale records, as the record's `recipe_file`
says, it replaces as a baselines recipe does.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from pathlib import Path

import torch

from genbench import artefacts, distributed, train_state
from genbench import seeds as seed_streams
from genbench.checkpoint import save_checkpoint
from genbench.claims import claim
from genbench.curve import Curve
from genbench.data import load_dataset
from genbench.env import hardware, resolve_device, seed_everything, versions
from genbench.errors import GenbenchError
from genbench.io import atomic_write_json
from genbench.models import build_for
from genbench.recipes import Recipe, check_recipe
from genbench.record_file import read_record, seal
from genbench.scoring import evaluate
from genbench.training import fit

RECORD_SCHEMA = 1
ERROR = "error.txt"  # beside a run that failed: its recipe hash, the one-line reason, the traceback


def run_dir(runs: str | Path, recipe: Recipe, seed: int) -> Path:
    """<runs>/<recipe id>/seed<N>, which must lie inside `runs` whatever the id holds. Checked by name,
    not by resolving links: a folder of `runs` linked to another disk is the user's choice."""
    folder = Path(runs) / recipe.id / f"seed{seed}"
    if Path(recipe.id).is_absolute() or ".." in Path(recipe.id).parts:
        raise GenbenchError(f"recipe id {recipe.id!r} would put its run folder {folder} outside --runs {runs}")
    return folder


def current_record(runs: str | Path, recipe: Recipe, seed: int) -> dict | None:
    """The run's record if it is this recipe's (its hash); None where there is none or it is another
    hash's (stale). A record file that cannot be read, or fails its digest, is refused by name."""
    path = run_dir(runs, recipe, seed) / "record.json"
    if not path.exists() and not path.is_symlink():
        return None
    record = read_record(path)
    return record if record["recipe_hash"] == recipe.hash else None


def stale_record(runs: str | Path, recipe: Recipe, seed: int) -> dict | None:
    """The run's record where it is of another recipe hash (the recipe changed since it ran), the
    other side of `current_record`; None where there is none, it is current, or it is damaged."""
    path = run_dir(runs, recipe, seed) / "record.json"
    if not path.is_file():
        return None
    try:
        record = read_record(path)
    except GenbenchError:
        return None  # a damaged record is refused where it is read as a run, not here
    return record if record["recipe_hash"] != recipe.hash else None


def existing_record(runs: str | Path, recipe: Recipe, seed: int) -> dict | None:
    """`current_record`, where a damaged record counts as no record: the run is (re)done."""
    try:
        return current_record(runs, recipe, seed)
    except GenbenchError:
        return None


def check_replaceable(runs: str | Path, recipe: Recipe, seed: int) -> None:
    """Refuse a run that would replace a record of another recipe hash where either recipe is a file
    from outside the baselines folder (see the module's docstring)."""
    folder = run_dir(runs, recipe, seed)
    if not (folder / "record.json").exists():
        return
    try:
        record = read_record(folder / "record.json")
    except GenbenchError:
        return  # nothing sound to keep: a damaged record is redone
    if record["recipe_hash"] == recipe.hash:
        return
    theirs = record.get("recipe_file")
    if theirs == (str(recipe.path.resolve()) if recipe.external else None):
        return  # the same recipe file (or the baselines recipe) changed: its old record is stale
    mine = f"recipe file {recipe.path} (outside the baselines folder)" if recipe.external else f"recipe {recipe.id}"
    source = f"recipe file {theirs}" if theirs else "the baselines recipe"
    raise GenbenchError(f"{folder} holds the record of recipe hash {record['recipe_hash']} ({source}); {mine} has hash "
                        f"{recipe.hash} and would replace it under the same id {recipe.id}: give another --runs, "
                        "or delete that folder to replace it")


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
    generator = seed_everything(seed_streams.training(seed), dev)
    model = build_for(recipe.model, dataset, recipe.model_params).to(dev)
    distributed.check(model, recipe.train.batch_size, len(dataset.train))
    state_key = f"{recipe.hash}/{seed}/{dev.type}" + (f"/x{distributed.size()}" if distributed.size() > 1 else "")
    if distributed.rank() > 0:  # a torchrun helper rank: trains its share, rank 0 writes everything
        fit(model, dataset, recipe.train, generator, False, state_dir=out if resume else None, state_key=state_key)
        return None
    with claim(out):
        if not rerun and existing_record(runs, recipe, seed) is not None:
            return None  # another process finished it while this one waited to start
        check_replaceable(runs, recipe, seed)  # again under the claim: another process may have written it
        for name in artefacts.NAMES:  # an earlier run's: they would show beside this run's record
            (out / name).unlink(missing_ok=True)
        curve = learning_curve(recipe, dataset, seed, dev, out if resume else None)
        train_info = fit(model, dataset, recipe.train, generator, progress, state_dir=out if resume else None,
                         state_key=state_key, curve=curve)
        return _finish(recipe, seed, model, dataset, dev, train_info, started, progress, plots, out, curve)


def check_batchable(recipe: Recipe):
    """Refuse a recipe whose seeds cannot train batched, before anything is written; its dataset."""
    from genbench.seed_batch import why_not_batched

    dataset = load_dataset(recipe.dataset, recipe.dataset_params)
    check_recipe(recipe, dataset)
    if distributed.size() > 1:
        raise GenbenchError("seed-batched training runs in one process, not under torchrun")
    probe = build_for(recipe.model, dataset, recipe.model_params)
    probe.configure_training(recipe.train)
    reason = why_not_batched(probe, recipe.train)
    if reason is not None:
        raise GenbenchError(f"{recipe.id} cannot train its seeds batched: {reason}")
    return dataset


def run_seeds(recipe: Recipe, seeds: list[int], runs: str | Path = "runs", device: str | None = None,
              progress: bool = True, resume: bool = True, rerun: bool = True,
              plots: bool = True) -> dict[int, dict | None]:
    """Train `seeds` of one recipe seed-batched (genbench.seed_batch) under their claims, then score
    and record each seed as `run_recipe` does: {seed: record, or None for a seed that `rerun` False
    skipped because its record appeared while its claim was awaited}."""
    from genbench.seed_batch import fit_seeds

    dev = resolve_device(device or recipe.device)
    started = time.perf_counter()
    dataset = check_batchable(recipe)
    outs = {s: run_dir(runs, recipe, s) for s in seeds}
    with contextlib.ExitStack() as held:
        for s in seeds:
            held.enter_context(claim(outs[s]))
        todo = [s for s in seeds if rerun or existing_record(runs, recipe, s) is None]
        for s in todo:
            check_replaceable(runs, recipe, s)
        models, generators = [], []
        for s in todo:  # each seed initialised exactly as it is alone
            generators.append(seed_everything(seed_streams.training(s), dev))
            models.append(build_for(recipe.model, dataset, recipe.model_params).to(dev))
            for name in artefacts.NAMES:
                (outs[s] / name).unlink(missing_ok=True)
        records: dict[int, dict | None] = {s: None for s in seeds}
        if todo:
            curves = [learning_curve(recipe, dataset, s, dev, outs[s] if resume else None) for s in todo]
            infos = fit_seeds(models, dataset, recipe.train, generators, progress,
                              state_dirs=[outs[s] for s in todo] if resume else None,
                              state_keys=[f"{recipe.hash}/{s}/{dev.type}" for s in todo], label=recipe.id,
                              curves=curves if recipe.curve_every else None)
            for s, model, info, curve in zip(todo, models, infos, curves, strict=True):
                records[s] = _finish(recipe, s, model, dataset, dev, info, started, progress, plots, outs[s], curve)
    return records


def learning_curve(recipe: Recipe, dataset, seed: int, dev, out: Path | None) -> Curve | None:
    """The recipe's metrics every `curve_every` steps, each point on the seed's scoring stream as
    the final score (genbench.curve), or None when the recipe keeps no curve."""
    if not recipe.curve_every:
        return None

    return Curve(recipe.curve_every, lambda model: score_run(recipe, dataset, model, seed, dev, False)["metrics"], out)


def score_run(recipe: Recipe, dataset, model, seed: int, dev, progress: bool) -> dict:
    """The recipe's metrics on `model`, drawn from the seed's own scoring stream, so a metric's samples
    depend neither on training length nor on when in training it is scored."""
    generator = torch.Generator(device=dev).manual_seed(seed_streams.scoring(seed))
    return evaluate(dataset, recipe.metrics, model=model, n_samples=recipe.n_samples, generator=generator,
                    progress=progress, options=recipe.score_options())


def _finish(recipe: Recipe, seed: int, model, dataset, dev, train_info: dict, started: float, progress: bool,
            plots: bool, out: Path, curve: Curve | None = None) -> dict:
    """Checkpoint, score and record a trained run (its claim held); the record is written last."""
    model.eval()
    save_checkpoint(model, out / "model.safetensors", {
        "dataset": recipe.dataset, "dataset_params": recipe.dataset_params,
        "recipe": recipe.id, "recipe_hash": recipe.hash, "seed": seed, "scoring_seed": seed_streams.scoring(seed),
        "score": recipe.score_config().to_json(),  # so that re-scoring the checkpoint scores it as its record
    })
    scores = score_run(recipe, dataset, model, seed, dev, progress)
    if plots and seed == recipe.seeds[0]:  # the seed the plots show
        artefacts.draw(out, model, dataset, artefacts.title(recipe.id, seed), dev)
    record = {
        "schema": RECORD_SCHEMA,
        "recipe": recipe.id,
        "recipe_version": recipe.version,
        "recipe_hash": recipe.hash,
        **({"recipe_file": str(recipe.path.resolve())} if recipe.external else {}),
        "dataset": recipe.dataset,
        "model": recipe.model,
        "family": model.family,
        "seed": seed,
        "seeds": seed_streams.streams(seed),
        "metrics": scores["metrics"],
        "score": {"metrics": scores["metric_names"], "n_samples": scores["n_samples"], "info": scores["info"],
                  "unscored": scores["unscored"], "wall_time_s": scores["wall_time_s"]},
        "train": {k: v for k, v in train_info.items()},
        **({"curve": curve.summary()} if curve is not None else {}),
        "wall_time_s": time.perf_counter() - started,
        "device": dev.type,
        "hardware": hardware(dev),
        "versions": versions(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "checkpoint": "model.safetensors",
    }
    record = seal(record)
    atomic_write_json(out / "record.json", record)
    train_state.clear(out)  # the run is complete: nothing left to resume
    if curve is not None:
        curve.clear()  # the record holds it now
    return record
