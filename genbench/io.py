"""Atomic writes: a result or table is either the old file or the whole new one, never half.

Where an output may go is checked here too, so that a command can refuse a bad output path before
any work (`output_file`, `output_folder`) and no write can replace what is not a regular file, one of
the command's own inputs (by any name: a symlink, a hard link, a relative path) or what a run wrote.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError

# What marks a run folder (genbench.runs, genbench.claims): its record, or the claim file a run takes
# before it starts. Nothing else is written into one, so that it holds what its run wrote alone.
RUN_MARKERS = ("record.json", ".claim")


def _check_folder(folder: Path, what: str, path: Path) -> None:
    for p in (folder, *folder.parents):  # the nearest existing ancestor decides
        if p.exists():
            if not p.is_dir():
                raise GenbenchError(f"{what} {path}: {p} is a file, not a folder")
            return


def _outside_run_folders(real: Path, what: str, path: Path) -> None:
    for p in (real, *real.parents):
        if any(os.path.lexists(p / m) for m in RUN_MARKERS):
            raise GenbenchError(f"{what} {path} lies in the run folder {p}, which holds what its run wrote alone; "
                                "write it elsewhere")


def _apart_from_inputs(path: Path, what: str, inputs: Iterable[tuple[str, Any]]) -> None:
    """Refuse an output that is one of `inputs` ((flag, path) pairs), or lies inside an input folder."""
    real = Path(os.path.realpath(path))
    for flag, given in inputs:
        if given is None or not os.path.exists(given):
            continue
        if os.path.isdir(given):
            if real.is_relative_to(os.path.realpath(given)):
                raise GenbenchError(f"{what} {path} lies inside {flag} {given}, an input of this command; "
                                    "write it elsewhere")
        elif real == Path(os.path.realpath(given)) or (os.path.exists(path) and os.path.samefile(path, given)):
            raise GenbenchError(f"{what} {path} is {flag} {given} (the same file), an input of this command; "
                                "write it elsewhere")
    _outside_run_folders(real.parent, what, path)


def output_folder(path: str | os.PathLike, what: str = "output folder", runs_inside: bool = True) -> Path:
    """`path` if it is, or can be made, a folder; without `runs_inside` (a folder of tables, not of
    runs), one that lies in no run folder."""
    path = Path(path)
    _check_folder(path, what, path)
    if not runs_inside:
        _outside_run_folders(Path(os.path.realpath(path)), what, path)
    return path


def output_file(path: str | os.PathLike, what: str = "output file",
                inputs: Iterable[tuple[str, Any]] | None = None) -> Path:
    """The file a write to `path` replaces. A symlink is followed, so the link stays and its target
    gets the new content (as `>` does in a shell); the target must be a regular file or not exist
    yet, never a folder, FIFO, socket or device, which a rename would silently replace. With
    `inputs`, the (flag, path) pairs a command reads, it may be none of them and lie in no run folder."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_symlink():  # realpath gives up on a loop and hands back a link
        raise GenbenchError(f"{what} {path} is a symlink loop")
    if path.exists():
        # stat through the link itself: /dev/fd/N of a pipe resolves to a name ("pipe:[…]") that is no path
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise GenbenchError(f"{what} {path} is a folder; give a file path")
        if not stat.S_ISREG(mode):
            shown = path if target == path else f"{path} -> {target}"
            raise GenbenchError(f"{what} {shown} is not a regular file; refusing to replace it")
    _check_folder(target.parent, what, path)
    if inputs is not None:  # a command's output, checked at its edge (runs write into their own folders)
        _apart_from_inputs(path, what, inputs)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make shared results unreadable
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_npy(path: str | os.PathLike, array) -> Path:
    """An array as a .npy file (no pickle: numbers only), written atomically like every output."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def finite(obj: Any) -> Any:
    # JSON has no NaN/inf; a non-finite number would make a record unreadable by strict parsers.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(finite(obj), indent=2, sort_keys=True) + "\n")


STDOUT = ("-", "/dev/stdout")  # --json: standard output, which a rename cannot replace (a pipe, a terminal)


def is_stdout(path: str | os.PathLike | None) -> bool:
    return path is not None and os.fspath(path) in STDOUT


def write_output_json(path: str | os.PathLike, obj: Any) -> Path | None:
    """A command's --json: atomically to its file, or to standard output for '-' or /dev/stdout."""
    if is_stdout(path):
        sys.stdout.write(json.dumps(finite(obj), indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
        return None
    return atomic_write_json(path, obj)
