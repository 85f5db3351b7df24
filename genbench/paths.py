"""Where genbench finds its folders: the source checkout, the baselines, the cache.

At the bottom of the import graph (it imports only `errors`), so any module can ask without
pulling in recipes, metrics or models.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from genbench.errors import GenbenchError


def source_root() -> Path:
    """The folder holding the genbench package: the checkout, for an editable install."""
    return Path(__file__).resolve().parents[1]


def baselines_dir(path: str | os.PathLike | None = None) -> Path:
    """baselines/ to use: an explicit path, $GENBENCH_BASELINES, ./baselines, or the source checkout's."""
    if path is not None and not Path(path).is_dir():
        raise GenbenchError(f"baselines folder {path} does not exist")
    for candidate in (path, os.environ.get("GENBENCH_BASELINES"), "baselines", source_root() / "baselines"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    raise GenbenchError("no baselines/ folder found: run from the genbench checkout, or pass --baselines DIR "
                        "or set GENBENCH_BASELINES")


def cache_dir() -> Path:
    """$GENBENCH_CACHE, default ~/.cache/genbench: downloads and cached reference features."""
    return Path(os.environ.get("GENBENCH_CACHE") or Path.home() / ".cache" / "genbench")


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a regular file ("is a folder", "is a FIFO", "is a symlink loop",
    "does not exist"), or None when it can: a message that says what is there, not only what is not."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as e:
        if path.is_symlink():
            try:
                os.stat(path)
            except OSError as inner:
                if inner.errno == 40:  # ELOOP
                    return "is a symlink loop"
            return f"is a symlink to {os.readlink(path)}, which does not exist"
        return "does not exist" if isinstance(e, FileNotFoundError) else f"cannot be read ({e.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a regular file"
