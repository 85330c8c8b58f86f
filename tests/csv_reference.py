"""A simple twin of `readers/csv.py` for the fast-path tests: records are found by a byte loop, each record
is decoded and parsed on its own, and every value is searched for U+FFFD and 外字 character by character.

Only what the CSV reader must agree on is rebuilt here; the shared helpers that turn failures into
rejects (`split_failures`, `hit_frame`, `hit_fails`) and the header check are reused as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from midlayout.layout.source import SourceFile
from midlayout.readers import Batch
from midlayout.readers import csv as csv_reader
from midlayout.readers.gaiji import GaijiHit, GaijiSpec, hit_fails, hit_frame, source_code
from midlayout.rejects import FILE, OFF, RAW, REC, Failure, empty_rejects, split_failures
from midlayout.text.encodings import CODECS, byte_offset

BOM = b"\xef\xbb\xbf"


MAX_QUOTED = 65_536  # the span a quoted field may have (docs/broken-extracts.md), as in readers/csvframe.py


@dataclass(frozen=True)
class RefRecord:
    """One record: where it is, and the quoting rule it breaks ("" when none)."""

    start: int
    end: int  # before CR/LF
    next: int
    fields: int
    rule: str = ""
    field_index: int = 0
    field_start: int = 0  # in the record
    message: str = ""


@dataclass(frozen=True)
class RefPiece:
    """One batch: the header and each record in the file."""

    header: tuple[str, ...]
    records: tuple[RefRecord, ...]
    rec: int  # records before this piece


def _resync(data: bytes, s: int, anchor: int, quote: int, delim: int, nfields: int, literal: bool) -> int:
    """The first LF at or after `anchor` where the record's field count is right (every delimiter, or those
    outside quotes) and a good record or the end of the file follows, among the first 32 LFs within
    MAX_QUOTED bytes of it; else the first LF; else the end of the file."""
    lfs = [i for i in range(anchor, len(data)) if data[i] == 0x0A]
    if not lfs:
        return len(data)
    for e in lfs[:32]:
        if e - anchor > MAX_QUOTED:
            break
        plain, inside, parity = 1, False, 1
        for byte in data[s:e]:
            if byte == quote:
                inside = not inside
            elif byte == delim:
                plain += 1
                parity += 0 if inside else 1
        if nfields in (plain, parity):
            if e + 1 >= len(data):
                return e
            nxt = _record(data, e + 1, quote, delim, nfields, literal, probe=True)
            if not nxt.rule and nxt.fields == nfields:
                return e
    return lfs[0]


def _record(
    data: bytes, s: int, quote: int, delim: int, nfields: int, literal: bool, probe: bool = False
) -> RefRecord:
    """Parse one record from `s`, byte by byte, by the dialect of docs/broken-extracts.md (`probe`: only
    whether it is good; a bad one is not resynchronised)."""
    n, i, fi = len(data), s, 0

    def close(stop: int, fields: int, *fault: object) -> RefRecord:
        end = stop - 1 if stop > s and data[stop - 1] == 0x0D else stop
        return RefRecord(s, end, min(stop + 1, n), fields, *fault)  # type: ignore[arg-type]

    def bad(rule: str, fstart: int, anchor: int, message: str) -> RefRecord:
        if probe:
            return RefRecord(s, s, s, nfields, rule)
        stop = _resync(data, s, anchor, quote, delim, nfields, literal)
        return close(stop, nfields, rule, fi, fstart - s, message)

    while True:
        fstart = i
        if i < n and data[i] == quote:
            opened, i, crossed = i, i + 1, False
            while True:
                if i > opened + MAX_QUOTED:
                    return bad(
                        "quote_unclosed",
                        fstart,
                        opened,
                        f"quote opened at byte {opened} is not closed within {MAX_QUOTED:,} bytes",
                    )
                if i >= n:
                    return bad(
                        "quote_unclosed",
                        fstart,
                        opened,
                        f"quote opened at byte {opened} is not closed before the end of the file",
                    )
                if data[i] == quote:
                    if i + 1 < n and data[i + 1] == quote:
                        i += 2
                        continue
                    i += 1
                    break
                crossed = crossed or data[i] in (0x0A, 0x0D)
                i += 1
            if i >= n:
                return close(n, fi + 1)
            c = data[i]
            if c == delim:
                i, fi = i + 1, fi + 1
            elif c == 0x0A:
                return close(i, fi + 1)
            elif c == 0x0D and (i + 1 >= n or data[i + 1] == 0x0A):
                return close(min(i + 1, n), fi + 1)
            elif crossed:
                return bad(
                    "quote_unclosed",
                    fstart,
                    opened,
                    f"quote opened at byte {opened} is not closed on its line "
                    f"(the next quote, at byte {i - 1}, is followed by text)",
                )
            else:
                what = "a space" if c == 0x20 else "text"
                return bad("quote_malformed", fstart, i, f"{what} after the closing quote at byte {i - 1}")
        else:
            while i < n and data[i] not in (delim, 0x0A):
                if data[i] == quote and not literal:
                    return bad("quote_malformed", fstart, i, f"quote inside an unquoted field at byte {i}")
                i += 1
            if i >= n:
                return close(n, fi + 1)
            if data[i] == delim:
                i, fi = i + 1, fi + 1
            else:
                return close(i, fi + 1)


def _split(data: bytes, source: SourceFile, start: int) -> list[RefRecord]:
    """Records by a plain loop, one after another; a last record may lack its LF."""
    out, i = [], start
    quote, delim = ord(source.quote), ord(source.delimiter)
    while i < len(data):
        r = _record(data, i, quote, delim, len(source.fields), source.bare_quotes == "literal")
        out.append(r)
        i = r.next
    return out


def ref_pieces(source: SourceFile, path: Path, batch_size: int) -> Iterator[RefPiece]:
    data = path.read_bytes()
    records = _split(data, source, 3 if data.startswith(BOM) else 0)
    if not records:
        return
    first = records[0]
    header = csv_reader._header(path, data, first.start, first.end, source, CODECS[source.encoding])
    body = records[1:]
    for lo in range(0, len(body), batch_size):
        yield RefPiece(tuple(header), tuple(body[lo : lo + batch_size]), lo)


def _parse_one(text: str, source: SourceFile, header: list[str]) -> tuple[str, ...]:
    """Python's csv module, strict (not polars: the reference should not share the parser's quirks)."""
    rows = list(
        csv.reader(
            io.StringIO(text, newline=""), delimiter=source.delimiter, quotechar=source.quote, strict=True
        )
    )
    assert len(rows) == 1 and len(rows[0]) == len(header), (text, rows)
    return tuple(rows[0])


def _gaiji(text: str, spec: GaijiSpec, row: int) -> tuple[str, list[GaijiHit]]:
    out, hits = [], []
    for i, ch in enumerate(text):
        if spec.is_gaiji(ch):
            hits.append(
                GaijiHit(
                    row,
                    byte_offset(text, i, spec.codec),
                    ch,
                    source_code(ch, spec.codec),
                    ch in spec.replacements,
                )
            )
        out.append(spec.replacements.get(ch, ch))
    return "".join(out), hits


def _field_offsets(raw: bytes, quote: int, delim: int) -> list[int]:
    """Each field's first byte in the record (a quoted field: its opening quote), byte by byte: a field
    that opens with a quote runs to a quote that is not doubled, and a delimiter outside it ends the field
    (a quote inside an unquoted field is text, as `bare_quotes: literal` reads it)."""
    out, state = [0], "start"  # start of a field / inside quotes / unquoted
    i = 0
    while i < len(raw):
        b = raw[i]
        if state == "quoted":
            if b == quote and i + 1 < len(raw) and raw[i + 1] == quote:
                i += 1
            elif b == quote:
                state = "unquoted"
        elif state == "start" and b == quote:
            state = "quoted"
        elif b == delim:
            out.append(i + 1)
            state = "start"
        else:
            state = "unquoted"
        i += 1
    return out


def ref_read_piece(source: SourceFile, path: Path, piece: RefPiece, spec: GaijiSpec) -> Batch:
    data = path.read_bytes()
    header, codec = list(piece.header), spec.codec
    count_fails, byte_fails = [], []
    rows: list[tuple[str, ...]] = []
    offsets: list[list[int]] = []  # field offsets per record
    ids = {f.column: f.id for f in source.fields}
    for i, r in enumerate(piece.records):
        raw = data[r.start : r.end]
        n = r.fields
        if n != len(header):
            count_fails.append(
                Failure(i, "", 0, "field_count", f"{n} fields where {len(header)} were expected")
            )
        if r.rule:
            column = header[r.field_index] if r.field_index < len(header) else ""
            count_fails.append(Failure(i, ids.get(column, ""), r.field_start, r.rule, r.message))
        starts = _field_offsets(raw, ord(source.quote), ord(source.delimiter))
        offsets.append(starts)
        try:
            text: str | None = raw.decode(codec)
        except UnicodeDecodeError as exc:  # the field holding the first bad byte
            k = max(j for j, at in enumerate(starts) if at <= exc.start)
            column = header[k] if k < len(header) and not r.rule else ""  # a quoting fault: the record
            byte_fails.append(
                Failure(
                    i,
                    ids.get(column, ""),
                    starts[k] if column in ids else 0,
                    "invalid_bytes",
                    f"record is not valid {source.encoding}",
                )
            )
            text = None
        ok = text is not None and n == len(header) and not r.rule
        rows.append(_parse_one(text, source, header) if ok else ("",) * len(header))  # type: ignore[arg-type]
    fails = count_fails + byte_fails

    def piece_raw(i: int) -> bytes:
        r = piece.records[i]
        return data[r.start : r.end]

    columns: dict[str, list[str | None]] = {}
    hits: list[tuple[str, int, GaijiHit]] = []
    for f in source.fields:
        col = header.index(f.column)
        values: list[str | None] = []
        field_hits: list[GaijiHit] = []

        def at(i: int, col: int = col) -> int:
            return offsets[i][col] if col < len(offsets[i]) else 0

        for i, row in enumerate(rows):
            value: str | None = row[col]
            if value is not None and "\ufffd" in value:
                fails.append(Failure(i, f.id, at(i), "replacement_char", "decodes to U+FFFD"))
                value = None
            if value is not None:
                value, found = _gaiji(value, spec, i)
                field_hits += found
            values.append(value)
        columns[f.id] = values
        for h in field_hits:
            fails += hit_fails(f.id, at(h.row), [h], spec.policy)
            content = at(h.row) + (piece_raw(h.row)[at(h.row) : at(h.row) + 1] == source.quote.encode())
            hits.append((f.id, content, h))
    n = len(piece.records)
    frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()}).with_columns(
        pl.lit(str(path)).alias(FILE),
        pl.int_range(piece.rec + 1, piece.rec + n + 1, dtype=pl.Int64).alias(REC),
        pl.Series(OFF, [r.start for r in piece.records], dtype=pl.Int64),
        pl.Series(RAW, [data[r.start : r.end] for r in piece.records], dtype=pl.Binary),
    )
    nbytes = piece.records[-1].end - piece.records[0].start
    gaiji = hit_frame(hits, frame, spec.policy)
    if not fails:
        return Batch(frame, empty_rejects(), n, nbytes, gaiji)
    good, rejects = split_failures(frame, fails)
    return Batch(good, rejects, n, nbytes, gaiji)
