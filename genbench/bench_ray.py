"""A suite's runs as tasks of a Ray cluster (the optional extra `genbench[ray]`).

Each run is one task (1 CPU and 1 torch thread, or `threads` of each; 1 GPU when it runs on CUDA). The task trains into a scratch folder on
its worker and returns the run's files; the driver writes them into --runs, record last and each
atomically, so the cluster needs no shared file system. The driver holds each run's claim while
its task is out, so benches sharing a runs folder still never train a run twice, and a bench
killed mid-way leaves no claim behind: the next bench redoes the runs that have no record.
Workers import genbench themselves: on a remote cluster it must be installed there.
"""

from __future__ import annotations

import functools
import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

from genbench.artefacts import SAMPLES, SWEEP
from genbench.bench import check_threads, cores, one_run
from genbench.claims import RunClaimed, claim
from genbench.errors import GenbenchError
from genbench.io import atomic_write_bytes
from genbench.runs import ERROR, existing_record, run_dir

CONNECT_TIMEOUT_S = 10
RETURNED = ("model.safetensors", "model.json", SAMPLES, SWEEP, ERROR, "record.json")  # in the order they are written


def ray_executor(address: str, threads: int | None = None):
    """Join the cluster at `address` ("auto", "ray://host:port", "host:port"), or start one here
    ("local"); returns the executor for `bench.run_all`, whose tasks each take `threads` CPUs and
    torch threads (default 1)."""
    check_threads(threads)
    try:
        import ray
    except ImportError:
        raise GenbenchError("--ray needs Ray, which is not installed: pip install 'genbench[ray]'") from None
    execute = functools.partial(run_on_ray, threads=threads)
    if ray.is_initialized():
        return execute
    quiet = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address not in ("local", "auto"):
        _check_reachable(address)
    try:
        if address == "local":  # all of its services on loopback
            ray.init(num_cpus=cores(), _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address=address, **quiet)
    except Exception as e:  # noqa: BLE001 (Ray raises ConnectionError, RuntimeError or ValueError here)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise GenbenchError(f"cannot reach the Ray cluster at {address!r}: {first}") from None
    return execute


def _check_reachable(address: str) -> None:
    """Fail fast with a clear message: Ray itself retries an unreachable head for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise GenbenchError(f"Ray address {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise GenbenchError(f"cannot reach the Ray cluster at {address!r}: {e.strerror or e}") from None


def _task(recipe, seed: int, device: str | None, threads: int, plots: bool) -> tuple[str, str, dict[str, bytes]]:
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        status, text = one_run(recipe, seed, scratch, device, False, plots)
        folder = run_dir(scratch, recipe, seed)
        files = {name: (folder / name).read_bytes() for name in RETURNED if (folder / name).is_file()}
    return status, text, files


def run_on_ray(pending, runs, device, progress, note, plots: bool = True, threads: int | None = None) -> list:
    import ray

    remote = ray.remote(_task)
    out, claimed = {}, []
    try:
        for r, s in pending:
            held = ExitStack()
            try:
                held.enter_context(claim(run_dir(runs, r, s)))
            except RunClaimed:
                claimed.append((r, s))
                continue
            if existing_record(runs, r, s) is not None:  # finished by another process meanwhile
                held.close()
                note(r, s, "skipped", "")
                continue
            gpus = 1 if (device or r.device) == "cuda" else 0
            n = threads or 1  # CPUs the task asks Ray for, and its torch threads
            out[remote.options(num_cpus=n, num_gpus=gpus).remote(r, s, device, n, plots)] = (r, s, held)
        left = list(out)
        while left:
            done, left = ray.wait(left, num_returns=1)
            r, s, held = out[done[0]]
            with held:
                try:
                    status, text, files = ray.get(done[0])
                except ray.exceptions.RayError as e:
                    status, text, files = "failed", f"its Ray task died ({type(e).__name__})", {}
                folder = Path(run_dir(runs, r, s))
                for name in RETURNED:
                    if name in files:
                        atomic_write_bytes(folder / name, files[name])
                    elif name in (SAMPLES, SWEEP):  # an earlier run's: it would show beside this one's record
                        (folder / name).unlink(missing_ok=True)
                note(r, s, status, text)
    except BaseException:
        for ref, (_, _, held) in out.items():
            ray.cancel(ref, force=True)
            held.close()
        raise
    return claimed
