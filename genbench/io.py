"""Atomic writes: a result or table is either the old file or the whole new one, never half.

Where an output may go is checked here too, so that a command can refuse a bad output path before
any work (`output_file`, `output_folder`) and no write can replace what is not a regular file.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError


def _check_folder(folder: Path, what: str, path: Path) -> None:
    for p in (folder, *folder.parents):  # the nearest existing ancestor decides
        if p.exists():
            if not p.is_dir():
                raise GenbenchError(f"{what} {path}: {p} is a file, not a folder")
            return


def output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """`path` if it is, or can be made, a folder."""
    path = Path(path)
    _check_folder(path, what, path)
    return path


def output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """The file a write to `path` replaces. A symlink is followed, so the link stays and its target
    gets the new content (as `>` does in a shell); the target must be a regular file or not exist
    yet, never a folder, FIFO, socket or device, which a rename would silently replace."""
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


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _finite(obj: Any) -> Any:
    # JSON has no NaN/inf; a non-finite number would make a record unreadable by strict parsers.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(_finite(obj), indent=2, sort_keys=True) + "\n")


STDOUT = ("-", "/dev/stdout")  # --json: standard output, which a rename cannot replace (a pipe, a terminal)


def is_stdout(path: str | os.PathLike | None) -> bool:
    return path is not None and os.fspath(path) in STDOUT


def write_output_json(path: str | os.PathLike, obj: Any) -> Path | None:
    """A command's --json: atomically to its file, or to standard output for '-' or /dev/stdout."""
    if is_stdout(path):
        sys.stdout.write(json.dumps(_finite(obj), indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
        return None
    return atomic_write_json(path, obj)
