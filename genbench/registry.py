"""Named registries: datasets, models, metrics, feature extractors.

Adding a concept is one file and one `@REGISTRY.register("name")`. An unknown name fails with
the list of valid names and the closest match, so a typo is a one-line fix.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterator
from types import UnionType
from typing import Generic, TypeVar

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


def check_params(kind: str, fn: Callable, params: dict, skip: tuple[str, ...] = (), where: str = "") -> dict:
    """Check `params` against `fn`'s keyword parameters: names, and types where annotated.

    Recipes are user input, so a misspelt or mistyped hyper-parameter is refused here with a
    message naming it, instead of failing deep inside a model.
    """
    prefix = f"{where}: " if where else ""
    signature = inspect.signature(fn)
    accepted = {
        name: p
        for name, p in signature.parameters.items()
        if name not in skip and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    hints = typing.get_type_hints(fn)
    for key, value in params.items():
        if key not in accepted:
            raise GenbenchError(prefix + unknown_name_message(f"{kind} parameter", key, list(accepted)))
        expected = hints.get(key)
        if expected is None:
            continue
        options = typing.get_args(expected) if typing.get_origin(expected) in (typing.Union, UnionType) else (expected,)
        ok = False
        for option in options:
            origin = typing.get_origin(option) or option
            if option is float and isinstance(value, int | float) and not isinstance(value, bool):
                ok = True
            elif option is int and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            elif origin is typing.Literal and value in typing.get_args(option):
                ok = True
            elif isinstance(origin, type) and origin not in (int, float) and isinstance(value, origin):
                ok = True
            elif option is type(None) and value is None:
                ok = True
        if not ok:
            allowed = typing.get_args(expected) if typing.get_origin(expected) is typing.Literal else None
            want = f"one of {', '.join(map(repr, allowed))}" if allowed else getattr(expected, "__name__", str(expected))
            raise GenbenchError(f"{prefix}{kind} parameter {key!r} must be {want}, got {value!r}")
    missing = [
        name for name, p in accepted.items() if p.default is inspect.Parameter.empty and name not in params
    ]
    if missing:
        raise GenbenchError(f"{prefix}{kind} needs parameter(s) {', '.join(missing)}")
    return params

