"""Parsers for option values shared by several commands (checked in the library, so every entry point agrees)."""

from __future__ import annotations

import math
import re

from midlayout.errors import UsageError

_UNITS = {
    "B": "B",
    "KB": "KB",
    "MB": "MB",
    "GB": "GB",
    "TB": "TB",
    "KIB": "KiB",
    "MIB": "MiB",
    "GIB": "GiB",
    "TIB": "TiB",
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def parse_memory_limit(text: str, option: str = "--memory-limit") -> str:
    """A DuckDB memory limit as DuckDB spells it, or a UsageError naming `option`.

    >>> parse_memory_limit("2gb"), parse_memory_limit("512 MiB")
    ('2GB', '512MiB')
    """
    match = _SIZE.fullmatch(str(text).strip())
    unit = _UNITS.get(match.group(2).upper()) if match else None
    if match is None or unit is None or float(match.group(1)) <= 0:
        raise UsageError(
            f"{option} {text!r}: write a size above zero with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), "
            "e.g. 2GB or 512MiB"
        )
    return f"{match.group(1)}{unit}"


def check_tolerance(value: float, option: str = "--tolerance") -> float:
    """A numeric tolerance: a finite number, 0 or more (`inf`, `nan` and negatives are UsageErrors)."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{option} {value!r}: must be a finite number, 0 or more")
    return float(value)
