"""DuckDB memory limits as the commands take them (`--memory-limit 2GB`), checked before they reach SQL."""

from __future__ import annotations

import re

from midlayout.errors import UsageError

_LIMIT = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
_UNITS = {u.lower(): u for u in ("B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB")}


def parse_memory_limit(text: str, option: str = "--memory-limit") -> str:
    """`text` as DuckDB's `memory_limit` setting takes it, e.g. `512MB`, `2GB`, `1.5GiB`; UsageError otherwise.

    >>> parse_memory_limit(" 2gb ")
    '2GB'
    """
    match = _LIMIT.fullmatch(str(text).strip())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{option} {text!r}: expected a size such as 512MB, 2GB or 1.5GiB")
    return f"{match.group(1)}{_UNITS[match.group(2).lower()]}"
