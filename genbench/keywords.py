"""The Python API's keyword arguments, checked at its edge under their CLI flags' names.

argparse types the CLI's flags before genbench sees them; a Python caller has no such filter, so a
string where a count goes, or a number where a path goes, would otherwise fail deep inside pandas,
pathlib or torch. Each check here refuses it in one line that names the flag (`n_samples` is
`--n-samples`), and hands the value back unchanged when it is good.
"""

from __future__ import annotations

import math
import os

from genbench.errors import GenbenchError


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shown(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def integer(name: str, value, low: int | None = None, high: int | None = None, optional: bool = True):
    """An int (never a bool, which Python counts as one), within [low, high] where given."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise GenbenchError(f"{flag(name)} must be an integer, got {_shown(value)}")
    if low is not None and value < low:
        raise GenbenchError(f"{flag(name)} must be at least {low}, got {value}")
    if high is not None and value > high:
        raise GenbenchError(f"{flag(name)} must be at most {high}, got {value}")
    return value


def real(name: str, value, optional: bool = True):
    """A finite number (int or float, never a bool or a string of digits)."""
    if value is None and optional:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise GenbenchError(f"{flag(name)} must be a finite number, got {_shown(value)}")
    return value


def path(name: str, value, optional: bool = True):
    """A file or folder path: a str or os.PathLike, not empty."""
    if value is None and optional:
        return None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise GenbenchError(f"{flag(name)} must be a path (a str or os.PathLike), got {_shown(value)}")
    return value


def paths(name: str, value, optional: bool = True):
    """One path or a list of them, as a repeatable flag takes."""
    if value is None and optional:
        return None
    if isinstance(value, str | os.PathLike):
        return path(name, value, optional)
    if not isinstance(value, list | tuple) or not value:
        raise GenbenchError(f"{flag(name)} must be a path or a non-empty list of paths, got {_shown(value)}")
    for v in value:
        path(name, v, optional=False)
    return value


def strings(name: str, value, optional: bool = True):
    """A repeatable flag's values: one string (one value, not its characters) or a list of strings."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GenbenchError(f"{flag(name)} must be a string or a list of strings, got {_shown(value)}")
    return list(value)


def boolean(name: str, value):
    if not isinstance(value, bool):
        raise GenbenchError(f"{flag(name)} must be True or False, got {_shown(value)}")
    return value
