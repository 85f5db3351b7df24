"""Named registries: datasets, models, metrics, feature extractors.

Adding a concept is one file and one `@REGISTRY.register("name")`. An unknown name fails with
the list of valid names and the closest match, so a typo is a one-line fix.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Generic, TypeVar

from genbench.errors import GenbenchError

T = TypeVar("T")


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    message = f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid)) or '(none)'}"
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise GenbenchError(unknown_name_message(self.kind, name, list(self._entries))) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())


@dataclass(frozen=True)
class Range:
    """The interval a numeric parameter must lie in (a bound of None: unbounded), declared beside
    its type: `steps: Annotated[int, Range(1)]`. `check_params` enforces it; floats must also be
    finite, ranged or not, so NaN and infinities are refused everywhere."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself excluded
    high_open: bool = False

    def __contains__(self, x: float) -> bool:
        above = self.low is None or (x > self.low if self.low_open else x >= self.low)
        below = self.high is None or (x < self.high if self.high_open else x <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


# The ranges hyper-parameters share, so that one word means one range everywhere.
Count = Annotated[int, Range(1)]  # sizes, steps, layers, components
Natural = Annotated[int, Range(0)]  # counts where 0 means "off" / "none"
Positive = Annotated[float, Range(0, low_open=True)]  # learning rates, temperatures
NonNegative = Annotated[float, Range(0)]  # tolerances, weights of penalties, regularizers
Fraction = Annotated[float, Range(0, 1, high_open=True)]  # probabilities and decays in [0, 1)
Proportion = Annotated[float, Range(0, 1, low_open=True, high_open=True)]  # strictly between 0 and 1


def _unwrap(option) -> tuple[object, Range | None]:
    """(type, its declared Range or None) of one annotation option."""
    if typing.get_origin(option) is Annotated:
        base, *extras = typing.get_args(option)
        return base, next((e for e in extras if isinstance(e, Range)), None)
    return option, None


def _describe(option) -> str:
    base, bounds = _unwrap(option)
    if typing.get_origin(base) is typing.Literal:
        allowed = typing.get_args(base)
        return f"one of {', '.join(map(repr, allowed))}" if len(allowed) > 1 else repr(allowed[0])
    name = "finite float" if base is float else "None" if base is type(None) else getattr(base, "__name__", str(base))
    return f"{name} {bounds}" if bounds else name


def _fits_type(base, value) -> bool:
    origin = typing.get_origin(base) or base
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is typing.Literal:
        return value in typing.get_args(base)
    if base is type(None):
        return value is None
    return isinstance(origin, type) and isinstance(value, origin)


def _fits_range(base, bounds: Range | None, value) -> bool:
    if base is float:
        try:
            if not math.isfinite(value):
                return False
        except OverflowError:  # an int too large to be a float
            return False
    return bounds is None or value in bounds


def check_params(kind: str, fn: Callable, params: dict, skip: tuple[str, ...] = (), where: str = "") -> dict:
    """Check `params` against `fn`'s keyword parameters: names, types where annotated, and ranges
    where the type is `Annotated` with a `Range`.

    Recipes are user input, so a misspelt, mistyped or out-of-range hyper-parameter is refused here
    with a message naming it, instead of failing deep inside a model (or being accepted).
    """
    prefix = f"{where}: " if where else ""
    signature = inspect.signature(fn)
    accepted = {
        name: p
        for name, p in signature.parameters.items()
        if name not in skip and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    hints = typing.get_type_hints(fn, include_extras=True)
    for key, value in params.items():
        if key not in accepted:
            raise GenbenchError(prefix + unknown_name_message(f"{kind} parameter", key, list(accepted)))
        expected = hints.get(key)
        if expected is None:
            continue
        options = typing.get_args(expected) if typing.get_origin(expected) in (typing.Union, UnionType) else (expected,)
        typed = [_unwrap(o) for o in options if _fits_type(_unwrap(o)[0], value)]
        if not any(_fits_range(base, bounds, value) for base, bounds in typed):
            want = " or ".join(_describe(o) for o in options)
            raise GenbenchError(f"{prefix}{kind} parameter {key!r} must be {want}, got {value!r}")
    missing = [
        name for name, p in accepted.items() if p.default is inspect.Parameter.empty and name not in params
    ]
    if missing:
        raise GenbenchError(f"{prefix}{kind} needs parameter(s) {', '.join(missing)}")
    return params


def select_by_glob(ids: list[str], patterns: list[str] | str | None, where: str) -> list[str]:
    """The ids matching any glob in `patterns` (all without patterns); a pattern that matches none
    is refused, naming the closest id. `where` ends the error: "of suite 'gpu'"."""
    if not patterns:
        return list(ids)
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    for pattern in patterns:
        if not fnmatch.filter(ids, pattern):
            raise GenbenchError(f"--recipes {pattern!r} matches no recipe {where} "
                                f"({unknown_name_message('recipe', pattern, ids)})")
    return [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in patterns)]
