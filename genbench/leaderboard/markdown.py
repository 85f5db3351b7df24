"""Text from run records, made inert in a Markdown table: a record is a file anyone can edit, and a
`<script>`, a `|` or a `[link](…)` in it must show as written, not split a row or run in a viewer."""

from __future__ import annotations

import re

ACTIVE = re.compile(r"([\\`*_\[\]|~])")  # emphasis, code, links, table cells, strike-through
PLAIN = re.compile(r"[\w.\-/@+:= ]*")  # what a recipe id, hash or name is made of: safe in a code span


def text(value) -> str:
    """`value` as literal Markdown text on one line: HTML's three characters as entities, Markdown's
    active characters backslash-escaped."""
    s = " ".join(str(value).split())  # a newline would end the table row
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return ACTIVE.sub(r"\\\1", s)


def code(value) -> str:
    """`value` as a code span where it is a plain name, else as escaped text (a code span cannot hold a
    backtick or, in a table, a bar)."""
    s = str(value)
    return f"`{s}`" if PLAIN.fullmatch(s) else text(s)
