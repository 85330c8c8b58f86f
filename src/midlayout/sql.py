"""The one place SQL text is built from a name, a path or a value (DuckDB; PostgreSQL uses psycopg.sql).

Every identifier goes through `ident`, every string (a path, a message, a code) through `literal`, every
number through `number`. Where a statement takes bound parameters (a plain query), pass the value as a
parameter instead. Nothing else in the tree pastes text into SQL: a path such as `o'x` or a job's
`out: x'; COPY … TO '…'; --` stays one literal.

>>> print(ident('a"b'), literal("o'x"), number(0.5))
"a""b" 'o''x' 0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from os import PathLike


def _text(value: str | PathLike[str]) -> str:
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be part of SQL text")
    return text


def ident(name: str) -> str:
    """A quoted identifier: `name` between double quotes, each `"` doubled."""
    return '"' + _text(name).replace('"', '""') + '"'


def qualified(*names: str) -> str:
    """A dotted name, each part quoted: `"schema"."table"`."""
    return ".".join(ident(n) for n in names)


def literal(value: str | PathLike[str]) -> str:
    """A string literal: `value` between single quotes, each `'` doubled (no backslash escapes)."""
    return "'" + _text(value).replace("'", "''") + "'"


def literal_list(values: Iterable[str | PathLike[str]]) -> str:
    """A list literal of strings, e.g. the files of `read_parquet([...])`."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def number(value: float) -> str:
    """A finite number as SQL text (`inf`/`nan` are refused: SQL has no literal for them)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(value) if isinstance(value, float) else str(int(value))
