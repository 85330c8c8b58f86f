"""The generated JEF/KEIS/JIPS tables (tables/*.tsv) loaded as numpy lookups; never edited by hand.

`scripts/gen_mainframe_tables.py` writes the TSV files from the jef4j JSON (origin and licence in
tables/NOTICE.md). Here each becomes a `Table`: an int32 array indexed by the code (256 or 65536 entries)
giving an index into a pool of UTF-8 strings, or a negative kind (undefined, no Unicode equivalent,
ambiguous upstream), plus the text → code dictionary used to encode.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

UNDEFINED, NO_UNICODE, AMBIGUOUS = -1, -2, -3
KINDS = ("rt", "d", "e", "x", "a")


@dataclass(frozen=True)
class Row:
    """One generated table row: the code, the text it stands for, its kind (rt d e x a)."""

    code: int
    text: str
    kind: str


@dataclass(frozen=True)
class Table:
    """One code table as lookups: `ids[code]` → pool index (or a negative kind); `encode[text]` → code."""

    name: str
    width: int  # bytes per code: 1 or 2
    rows: tuple[Row, ...]
    ids: np.ndarray
    pool: tuple[str, ...]
    encode: dict[str, int]
    utf8: np.ndarray  # every pool string's UTF-8 bytes, concatenated
    starts: np.ndarray  # where each pool string starts in `utf8`
    lens: np.ndarray  # its length in bytes


def _text(hexes: str) -> str:
    return "".join(chr(int(h, 16)) for h in hexes.split())


def read_rows(name: str) -> tuple[Row, ...]:
    """The rows of tables/<name>.tsv as generated (comment lines skipped)."""
    text = resources.files(__package__).joinpath("tables", f"{name}.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        code, hexes, kind = line.split("\t")
        rows.append(Row(int(code, 16), _text(hexes), kind))
    return tuple(rows)


@cache
def load(name: str, gaiji: tuple[tuple[int, int, int, int, int], ...] = ()) -> Table:
    """Table `name` with the vendor's user-defined area (外字) added as private-use characters.

    `gaiji` rows are (lead low, lead high, trail low, trail high, first code point): code
    (lead, trail) decodes to ``first + (lead - lead low) * 94 + (trail - trail low)``, as jef4j does.
    """
    rows = read_rows(name)
    width = 2 if any(r.code > 0xFF for r in rows) else 1
    ids = np.full(1 << (8 * width), UNDEFINED, dtype=np.int32)
    pool: list[str] = []
    encode: dict[str, int] = {}
    for row in rows:
        if row.kind == "x":
            ids[row.code] = NO_UNICODE
        elif row.kind == "a":
            ids[row.code] = AMBIGUOUS
        elif row.kind in ("rt", "d"):
            ids[row.code] = len(pool)
            pool.append(row.text)
        if row.kind in ("rt", "e"):
            encode[row.text] = row.code
    for lead_lo, lead_hi, trail_lo, trail_hi, first in gaiji:
        for lead in range(lead_lo, lead_hi + 1):
            for trail in range(trail_lo, trail_hi + 1):
                ch = chr(first + (lead - lead_lo) * 94 + (trail - trail_lo))
                code = lead << 8 | trail
                ids[code] = len(pool)
                pool.append(ch)
                encode[ch] = code
    encoded = [s.encode("utf-8") for s in pool]
    lens = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded), dtype=np.int64)
    starts[1:] = np.cumsum(lens)[:-1]
    utf8 = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return Table(name, width, rows, ids, tuple(pool), encode, utf8, starts, lens)


@cache
def bytemap(name: str) -> np.ndarray:
    """A generated one-byte translation (tables/<name>.tsv: FROM TAB TO) as a 256-entry uint8 array."""
    text = resources.files(__package__).joinpath("tables", f"{name}.tsv").read_text(encoding="utf-8")
    out = np.arange(256, dtype=np.uint8)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            frm, to = line.split("\t")
            out[int(frm, 16)] = int(to, 16)
    return out
