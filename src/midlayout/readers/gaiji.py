"""外字 in decoded columns: find them, apply the municipality's table, and locate every occurrence.

A character is a 外字 when it is a private-use code point (CP932 0xF040-0xF9FC decodes to
U+E000-U+E757), or its source bytes fall in the source file's declared `gaiji_ranges`. Characters the
外字 table lists are replaced by its replacement (and reported as mapped); the others are reported as
unmapped and, by policy, reject the record or stay in place flagged. Nothing passes unreported.

The search is one regex call per column; only the rows that hold a hit are walked in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from midlayout import kernels
from midlayout.errors import DefinitionError, Location
from midlayout.layout.gaiji import GaijiOptions

__all__ = ["GaijiOptions", "GaijiSpec", "apply_gaiji", "empty_gaiji", "spec_for"]
from midlayout.layout.source import SourceFile
from midlayout.readers.decode import is_ebcdic
from midlayout.rejects import Failure
from midlayout.text import mainframe
from midlayout.text.encodings import CODECS, byte_offset
from midlayout.text.ivs import codepoints, is_selector
from midlayout.text.utf8 import utf8_bytes

PUA_CLASS = "\ue000-\uf8ff\U000f0000-\U0010fffd"
_PUA = re.compile(f"[{PUA_CLASS}]")

GAIJI_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "record": pl.Int64(),
    "byte_offset": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),  # source bytes, hex
    "char": pl.String(),  # U+XXXX of the decoded character
    "status": pl.String(),  # mapped | unmapped
    "action": pl.String(),  # replaced | rejected | kept
}


def empty_gaiji() -> pl.DataFrame:
    """A 外字 occurrence frame with no rows."""
    return pl.DataFrame(schema=GAIJI_SCHEMA)


@dataclass(frozen=True)
class GaijiSpec:
    """What a reader needs for one source file: decoded char → replacement, and the search pattern."""

    codec: str
    replacements: dict[str, str]
    declared: frozenset[str]
    policy: str
    # (field, mode) pairs: spaces the compiled mapping left for the fixed-width reader to trim while it
    # decodes (mapping/pushdown.py; 1 right, 2 both); empty unless a conversion's batch runner sets them.
    reader_trims: tuple[tuple[str, int], ...] = ()
    pattern: str = field(init=False)

    def __post_init__(self) -> None:
        extra = "".join(re.escape(ch) for ch in sorted(set(self.replacements) | self.declared))
        object.__setattr__(self, "pattern", f"[{PUA_CLASS}{extra}]")

    def is_gaiji(self, ch: str) -> bool:
        return ch in self.replacements or ch in self.declared or bool(_PUA.match(ch))


@dataclass(frozen=True)
class GaijiHit:
    """One 外字 occurrence: row in the batch, byte offset in the field, the character, its source code."""

    row: int
    byte: int
    char: str
    code: str
    mapped: bool


def _code_bytes(code: bytes, codec: str) -> bytes:
    """EBCDIC DBCS codes may be written without their SO/SI."""
    if is_ebcdic(codec) and len(code) == 2 and code[:1] != b"\x0e":
        return b"\x0e" + code + b"\x0f"
    return code


def _decode_one(code: bytes, codec: str) -> str | None:
    try:
        if mainframe.is_mainframe(codec) and len(code) == 2:  # a JEF/KEIS/JIPS pair, written without shifts
            text = mainframe.decode_field(code, codec, shifted=False)
        else:
            text = _code_bytes(code, codec).decode(codec)
    except UnicodeDecodeError:
        return None
    return text if len(text) == 1 else None


@cache
def _declared_chars(ranges: tuple[tuple[bytes, bytes], ...], codec: str) -> frozenset[str]:
    chars = set()
    for lo, hi in ranges:
        for value in range(int.from_bytes(lo), int.from_bytes(hi) + 1):
            ch = _decode_one(value.to_bytes(len(lo)), codec)
            if ch is not None and not ch.isascii():
                chars.add(ch)
    return frozenset(chars)


def spec_for(source: SourceFile, options: GaijiOptions | None) -> GaijiSpec:
    """Resolve the table's source codes to decoded characters in this source file's encoding."""
    options = options or GaijiOptions()
    codec = CODECS[source.encoding]
    replacements: dict[str, str] = {}
    applies = options.table is not None and options.encoding in (None, source.encoding)
    for entry in options.table.entries if applies else ():  # type: ignore[union-attr]
        ch = _decode_one(entry.code, codec)
        if ch is None:
            raise DefinitionError(
                f"code {entry.code.hex().upper()} is not one character in {source.encoding} (source file {source.id})",
                Location(file=str(options.table.path), line=entry.line),  # type: ignore[union-attr]
            )
        replacements[ch] = entry.replacement
    return GaijiSpec(codec, replacements, _declared_chars(source.gaiji_ranges, codec), options.unmapped)


def source_code(ch: str, codec: str) -> str:
    """The character's source bytes as hex (EBCDIC without SO/SI; JEF/KEIS/JIPS: the vendor code)."""
    if mainframe.is_mainframe(codec):
        return mainframe.vendor_code(ch, codec)
    raw = ch.encode(codec)
    if is_ebcdic(codec):
        raw = raw.strip(b"\x0e\x0f")
    return raw.hex().upper()


def may_hold_gaiji(arr: pa.Array, spec: GaijiSpec) -> bool:
    """False only when the column holds no private-use character and the spec names no other 外字.

    In UTF-8 the private-use planes start EE (U+E000-U+EFFF), EF 80-A3 (U+F000-U+F8FF), F3 B0-BF
    (plane 15) or F4 (plane 16): one vectorised scan lets a column without them skip the regex.
    """
    if spec.replacements or spec.declared:
        return True
    buf = utf8_bytes(arr)
    if buf is None:
        return True
    if (buf == 0xEE).any() or (buf == 0xF4).any():
        return True
    first, second = buf[:-1], buf[1:]
    return bool(((first == 0xEF) & (second <= 0xA3)).any() or ((first == 0xF3) & (second >= 0xB0)).any())


def apply_gaiji(
    arr: pa.Array, spec: GaijiSpec, shifted: bool = True, raw: np.ndarray | None = None
) -> tuple[pa.Array, list[GaijiHit]]:
    """Replace mapped 外字 and locate every 外字 in a decoded column (nulls are skipped).

    `shifted=False`: the column is a pure double-byte field (no shift codes before a character).
    `raw`: the field's bytes (n × width), from which JEF/KEIS/JIPS offsets are read exactly.
    """
    if not kernels.active().may_hold_gaiji(arr, spec):
        return arr, []
    found = pc.fill_null(pc.match_substring_regex(arr, spec.pattern), False)
    rows = np.flatnonzero(found.to_numpy(zero_copy_only=False))
    if not len(rows):
        return arr, []
    texts = arr.to_pylist()
    hits: list[GaijiHit] = []
    exact = raw is not None and mainframe.is_mainframe(spec.codec)
    for row in rows:  # error path: only values that hold a 外字
        text = texts[row]
        out = []
        offsets = mainframe.char_offsets(bytes(raw[row]), spec.codec, shifted) if exact else None  # type: ignore[index]
        i = 0
        while i < len(text):
            ch, end = text[i], i + 1
            while end < len(text) and is_selector(
                text[end]
            ):  # a 外字 with a variation selector: one character
                end += 1
            if spec.is_gaiji(ch):
                mapped = ch in spec.replacements
                byte = offsets[i] if offsets is not None else byte_offset(text, i, spec.codec, shifted)
                hits.append(GaijiHit(int(row), byte, text[i:end], source_code(ch, spec.codec), mapped))
                out.append(spec.replacements[ch] if mapped else text[i:end])
            else:
                out.append(text[i:end])
            i = end
        texts[row] = "".join(out)
    return pa.array(texts, type=pa.large_string()), hits


def hit_fails(field_id: str, start: int, hits: list[GaijiHit], policy: str) -> list[Failure]:
    """Reader failures for unmapped 外字 under `reject`."""
    if policy != "reject":
        return []
    return [
        Failure(
            h.row,
            field_id,
            start,
            "gaiji_unmapped",
            f"外字 {codepoints(h.char)} (0x{h.code}) has no mapping in the 外字 table (byte {h.byte} of the field)",
        )
        for h in hits
        if not h.mapped
    ]


def hit_frame(hits: list[tuple[str, int, GaijiHit]], frame: pl.DataFrame, policy: str) -> pl.DataFrame:
    """Occurrences (field, byte in record, hit) joined to the batch's provenance columns."""
    from midlayout.rejects import FILE, OFF, REC

    if not hits:
        return empty_gaiji()
    unmapped_action = "rejected" if policy == "reject" else "kept"
    occ = pl.DataFrame(
        [
            (
                h.row,
                f,
                start + h.byte,
                h.code,
                codepoints(h.char),
                "mapped" if h.mapped else "unmapped",
                "replaced" if h.mapped else unmapped_action,
            )
            for f, start, h in hits
        ],
        schema=["_row", "field", "_start", "code", "char", "status", "action"],
        orient="row",
    ).with_columns(pl.col("_row").cast(pl.UInt32))
    prov = frame.select(FILE, REC, OFF).with_row_index("_row")
    joined = occ.join(prov, on="_row", how="left")
    return joined.select(
        pl.col(FILE).alias("file"),
        pl.col(REC).alias("record"),
        (pl.col(OFF) + pl.col("_start")).alias("byte_offset"),
        "field",
        "code",
        "char",
        "status",
        "action",
    ).cast(GAIJI_SCHEMA)  # type: ignore[arg-type]
