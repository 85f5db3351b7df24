"""Running a suite's runs: every recipe x seed without a current record, in this process or in N
worker processes on this machine (each with cores/N torch threads, or the threads asked for).

The number of torch threads is part of what sets a run's numbers on the CPU: some of torch's CPU
kernels (batch norm's statistics among them) split their sums by thread, so a GAN trained with 1
thread and with 2 lands in different places. A run records its thread count, and `threads` runs
serially with the count a worker would use, giving the same records as `jobs`.

Each run is claimed before it starts (claims.py), so benches and workers sharing a runs folder
never train a run twice; a run held by another process is waited for, and taken over if its
holder dies without a record. A run that fails is reported with its recipe and seed, its
traceback kept in its folder as error.txt, and the other runs go on.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from genbench import keywords
from genbench.claims import RunClaimed, held
from genbench.env import torch_threads
from genbench.errors import GenbenchError
from genbench.io import atomic_write_text
from genbench.recipes import Recipe
from genbench.runs import ERROR, existing_record, run_dir, run_recipe, run_seeds

POLL_S = 2.0  # how often a run held by another process is looked at again


@dataclass
class Outcome:
    ran: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)  # recorded already, or by another process
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # recipe, seed, one-line reason


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _say(progress: bool, message: str) -> None:
    if progress:
        tqdm.write(message, file=sys.stderr)


def one_run(recipe: Recipe, seed: int, runs, device, progress: bool, plots: bool = True) -> tuple[str, str]:
    """('ran', summary) | ('claimed', holder) | ('skipped', '') | ('failed', reason); never raises
    but on an interrupt, so one bad run cannot stop the others."""
    t = time.perf_counter()
    try:
        record = run_recipe(recipe, seed, runs=runs, device=device, progress=progress, rerun=False, plots=plots)
    except RunClaimed as e:
        return "claimed", str(e)
    except Exception as e:  # noqa: BLE001 (reported, with the traceback kept beside the run)
        folder = run_dir(runs, recipe, seed)
        reason = str(e) if isinstance(e, GenbenchError) else f"{type(e).__name__}: {e}"
        if folder.is_dir():
            one_line = " ".join(reason.split())
            atomic_write_text(folder / ERROR, f"{recipe.hash}\n{one_line}\n\n{traceback.format_exc()}")
        return "failed", reason
    if record is None:
        return "skipped", ""
    (run_dir(runs, recipe, seed) / ERROR).unlink(missing_ok=True)  # an earlier failure's, now mended
    shown = ", ".join(f"{k}={v:.4g}" for k, v in record["metrics"].items() if v is not None)
    return "ran", f"{shown} ({time.perf_counter() - t:.1f}s)"


def one_unit(recipe: Recipe, seeds: int | tuple[int, ...], runs, device, progress: bool,
             plots: bool = True) -> list[tuple[int, str, str]]:
    """A unit of work: one run (an int seed), or a recipe's seeds trained batched (a tuple; see
    `run_all`). [(seed, status, text)] as `one_run` reports them; never raises but on an interrupt."""
    if isinstance(seeds, int):
        return [(seeds, *one_run(recipe, seeds, runs, device, progress, plots))]
    t = time.perf_counter()
    try:
        records = run_seeds(recipe, list(seeds), runs=runs, device=device, progress=progress, rerun=False,
                            plots=plots)
    except RunClaimed as e:
        return [(s, "claimed", str(e)) for s in seeds]
    except Exception as e:  # noqa: BLE001 (reported, with the traceback kept beside each run)
        reason = str(e) if isinstance(e, GenbenchError) else f"{type(e).__name__}: {e}"
        for s in seeds:
            folder = run_dir(runs, recipe, s)
            if folder.is_dir():
                atomic_write_text(folder / ERROR, f"{recipe.hash}\n{' '.join(reason.split())}\n\n{traceback.format_exc()}")
        return [(s, "failed", reason) for s in seeds]
    out = []
    for s, record in records.items():
        if record is None:
            out.append((s, "skipped", ""))
            continue
        (run_dir(runs, recipe, s) / ERROR).unlink(missing_ok=True)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in record["metrics"].items() if v is not None)
        out.append((s, "ran", f"{shown} ({len(seeds)} seeds batched, {time.perf_counter() - t:.1f}s)"))
    return out


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def check_threads(threads: int | None) -> None:
    keywords.integer("threads", threads, low=1)


def executor(jobs: int = 1, threads: int | None = None):
    """How runs are carried out: here (jobs 1) or in `jobs` worker processes, each run with `threads`
    torch threads (default: this process's setting serially, cores/jobs in workers). (Ray: bench_ray.)"""
    keywords.integer("jobs", jobs, low=1, optional=False)
    check_threads(threads)
    if jobs == 1:
        return functools.partial(serial, threads=threads)
    return functools.partial(processes, jobs=jobs, threads=threads)


def run_all(todo: list[tuple[Recipe, int]], runs, device: str | None = None, execute=None,
            progress: bool = True, plots: bool = True, batch_seeds: bool = False) -> Outcome:
    """Run every (recipe, seed) of `todo` that has no current record, by `execute` (see `executor`;
    default: one after another in this process); `plots`: runs write their plot artefacts. The
    unrecorded seeds of a recipe with `seeds_batched` (every recipe's, with `batch_seeds`) go as one
    unit of work, trained together (genbench.seed_batch)."""
    execute = execute or serial
    outcome = Outcome()
    pending: list[tuple[Recipe, int | tuple[int, ...]]] = []
    batched: dict[str, tuple[Recipe, list[int]]] = {}
    for r, s in todo:
        if existing_record(runs, r, s) is not None:
            outcome.skipped.append((r.id, s))
        elif r.seeds_batched or batch_seeds:
            batched.setdefault(r.id, (r, []))[1].append(s)
        else:
            pending.append((r, s))
    pending += [(r, tuple(ss)) for r, ss in batched.values()]
    runs_pending = sum(len(s) if isinstance(s, tuple) else 1 for _, s in pending)
    if len(outcome.skipped):
        _say(progress, f"{len(outcome.skipped)} of {len(todo)} runs already recorded: skipped")
    with tqdm(total=runs_pending, desc="runs", unit="run", disable=not progress or None,
              file=sys.stderr) as bar:
        def note(r: Recipe, s: int, status: str, text: str) -> None:
            if status == "claimed":
                return
            if status == "failed":
                if (run_dir(runs, r, s) / ERROR).is_file():
                    text += f" (traceback in {run_dir(runs, r, s) / ERROR})"
                outcome.failed.append((r.id, s, text))
                _say(progress, f"{r.id} seed {s}: FAILED: {text}")
            elif status == "skipped":
                outcome.skipped.append((r.id, s))
                _say(progress, f"{r.id} seed {s}: recorded by another process")
            else:
                outcome.ran.append((r.id, s))
                _say(progress, f"{r.id} seed {s}: {text}")
            bar.update(1)

        while pending:
            claimed = execute(pending, runs, device, progress, note, plots=plots)
            if claimed:
                _say(progress, f"waiting for {len(claimed)} run(s) held by other processes")
                while all(any(held(run_dir(runs, r, s)) for s in (u if isinstance(u, tuple) else (u,)))
                          for r, u in claimed):
                    time.sleep(POLL_S)
            pending = claimed  # each is retried: recorded by its holder now, or taken over
    return outcome


def serial(pending, runs, device, progress, note, plots: bool = True,
           threads: int | None = None) -> list[tuple[Recipe, int | tuple[int, ...]]]:
    claimed = []
    with torch_threads(threads):
        for r, unit in pending:
            results = one_unit(r, unit, runs, device, progress, plots)
            if any(status == "claimed" for _, status, _ in results):
                claimed.append((r, unit))
            for s, status, text in results:
                note(r, s, status, text)
    return claimed


def processes(pending, runs, device, progress, note, jobs: int = 2, plots: bool = True,
              threads: int | None = None) -> list[tuple[Recipe, int]]:
    threads = threads or max(1, cores() // jobs)
    claimed = []
    # spawn, not fork: a forked child of a process that already ran torch can deadlock in its thread pools.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(one_unit, r, unit, runs, device, False, plots): (r, unit) for r, unit in pending}
        try:
            left = set(futures)
            while left:
                done, left = wait(left, return_when=FIRST_COMPLETED)
                for f in done:
                    r, unit = futures[f]
                    try:
                        results = f.result()
                    except BrokenProcessPool:
                        results = [(s, "failed", "its worker process died (killed, or out of memory?); "
                                              "the next bench resumes it")
                                   for s in (unit if isinstance(unit, tuple) else (unit,))]
                    if any(status == "claimed" for _, status, _ in results):
                        claimed.append((r, unit))
                    for s, status, text in results:
                        note(r, s, status, text)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return claimed
