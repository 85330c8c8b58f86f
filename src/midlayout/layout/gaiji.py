"""外字 tables: a municipality's CSV of source codes → Unicode (or IVS) replacements, strictly checked.

Columns (header required, UTF-8 with or without BOM):

- ``code``: the character's bytes in the SOURCE encoding, as hex (``F040``; for EBCDIC the DBCS pair
  ``6941`` or the full ``0E69410F``),
- ``replacement``: the Unicode text to write instead, literally or as ``U+845B U+E0100`` (an IVS),
- ``mj``: optional MJ文字図形名 (``MJ000001``), recorded for the audit trail,
- ``note``: optional free text.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from midlayout.errors import DefinitionError, Location

COLUMNS = ("code", "replacement", "mj", "note")
REQUIRED = ("code", "replacement")
UNMAPPED_POLICIES = ("reject", "flag")

_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_CODEPOINTS = re.compile(r"^U\+[0-9A-Fa-f]{4,6}(?:\s+U\+[0-9A-Fa-f]{4,6})*$")
_MJ = re.compile(r"^MJ[0-9]{6}$")
_PUA = re.compile("[\ue000-\uf8ff\U000f0000-\U0010fffd]")
_VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


@dataclass(frozen=True)
class GaijiOptions:
    """Run options: the 外字 table (if any) and what to do with an unmapped 外字 (reject or flag)."""

    table: GaijiTable | None = None
    unmapped: str = "reject"
    encoding: str | None = None  # the table applies to source files in this encoding; None: to all

    def __post_init__(self) -> None:
        if self.unmapped not in UNMAPPED_POLICIES:
            raise DefinitionError(
                f"unmapped 外字 policy must be one of {', '.join(UNMAPPED_POLICIES)}, not {self.unmapped!r}"
            )


@dataclass(frozen=True)
class GaijiEntry:
    """One row of a 外字 table."""

    code: bytes
    replacement: str
    mj: str
    note: str
    line: int


@dataclass(frozen=True)
class GaijiTable:
    """A loaded 外字 table; entries keyed by source bytes."""

    path: Path
    entries: tuple[GaijiEntry, ...]
    sha256: str


def _replacement(text: str, err: Location) -> str:
    value = text.strip()
    if _CODEPOINTS.match(value):
        value = "".join(chr(int("0x" + cp[2:], 0)) for cp in value.split())
    if not value:
        raise DefinitionError("replacement is empty", err)
    if _PUA.search(value):
        raise DefinitionError("replacement holds a private-use character: it would still be a 外字", err)
    if _VS.match(value) or re.search(f"{_VS.pattern}{{2}}", value):
        raise DefinitionError("a variation selector must follow a base character", err)
    return value


def _entry(row: dict[str, str], line: int, path: Path) -> GaijiEntry:
    err = Location(file=str(path), line=line)
    code = (row.get("code") or "").strip().replace(" ", "")
    if not _HEX.match(code):
        raise DefinitionError(f"code {code!r} is not hex bytes (e.g. F040)", err)
    mj = (row.get("mj") or "").strip()
    if mj and not _MJ.match(mj):
        raise DefinitionError(f"mj {mj!r} is not an MJ文字図形名 (MJ + 6 digits)", err)
    return GaijiEntry(
        bytes.fromhex(code),
        _replacement(row.get("replacement") or "", err),
        mj,
        (row.get("note") or "").strip(),
        line,
    )


def load_gaiji_table(path: Path) -> GaijiTable:
    """Load and validate a 外字 table; DefinitionError with file:line on any fault."""
    from midlayout.layout.standard import sha256_file

    if not path.is_file():
        raise DefinitionError("外字 table not found", Location(file=str(path)))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"not UTF-8 (byte {exc.start})", Location(file=str(path))) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        raise DefinitionError(
            f"header must be {','.join(COLUMNS)} (missing {missing}, unknown {unknown})",
            Location(file=str(path), line=1),
        )
    entries: list[GaijiEntry] = []
    seen: dict[bytes, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise DefinitionError("more fields than header columns", Location(file=str(path), line=line))
        entry = _entry(row, line, path)
        if entry.code in seen:
            raise DefinitionError(
                f"code {entry.code.hex().upper()} already mapped on line {seen[entry.code]}",
                Location(file=str(path), line=line),
            )
        seen[entry.code] = line
        entries.append(entry)
    return GaijiTable(path, tuple(entries), sha256_file(path))
