"""A run is claimed before it starts, so two benches (or two workers) on one runs folder never
train the same run twice.

The claim is an exclusive `flock` on a file in the run's folder, held while the run trains. The
kernel drops the lock when its process ends, however it ends, so a claim of a killed worker is
never stale: the next bench takes the run and resumes it from its last saved training state. The
file also names its holder, for the message another process prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from genbench.errors import GenbenchError

CLAIM = ".claim"


class RunClaimed(GenbenchError):
    """Another live process holds the run."""


def held(folder: Path) -> bool:
    """True while a live process holds the claim on `folder`."""
    try:
        fd = os.open(folder / CLAIM, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


@contextmanager
def claim(folder: Path):
    """Hold `folder` for the block; RunClaimed at once when a live process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / CLAIM, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            try:
                who = json.loads(other)
                who = f"process {who['pid']} on {who['host']}"
            except (ValueError, KeyError, TypeError):
                who = "another process"
            raise RunClaimed(f"{folder} is being trained by {who}") from None
        # The file is never removed (that would race with a process opening it): only its lock counts.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid()}).encode(), 0)
        yield
    finally:
        os.close(fd)
