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


@dataclass(frozen=True)
class RefPiece:
    """One batch: the header and each record's (start, end before CR/LF) in the file."""

    header: tuple[str, ...]
    records: tuple[tuple[int, int], ...]
    rec: int  # records before this piece


def _split(data: bytes, quote: int, start: int) -> list[tuple[int, int]]:
    """Records by a plain loop: an LF outside quotes ends one; a last record may lack its LF."""
    out, inside, s = [], False, start
    for i in range(start, len(data)):
        byte = data[i]
        if byte == quote:
            inside = not inside
        elif byte == 0x0A and not inside:
            out.append((s, i))
            s = i + 1
    if s < len(data):
        out.append((s, len(data)))
    return [(s, e - 1 if e > s and data[e - 1] == 0x0D else e) for s, e in out]


def ref_pieces(source: SourceFile, path: Path, batch_size: int) -> Iterator[RefPiece]:
    data = path.read_bytes()
    records = _split(data, ord(source.quote), 3 if data.startswith(BOM) else 0)
    if not records:
        return
    s, e = records[0]
    header = csv_reader._header(path, data, s, e, source, CODECS[source.encoding])
    body = records[1:]
    for lo in range(0, len(body), batch_size):
        yield RefPiece(tuple(header), tuple(body[lo : lo + batch_size]), lo)


def _count_fields(raw: bytes, quote: int, delim: int) -> int:
    inside, n = False, 1
    for byte in raw:
        if byte == quote:
            inside = not inside
        elif byte == delim and not inside:
            n += 1
    return n


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


def ref_read_piece(source: SourceFile, path: Path, piece: RefPiece, spec: GaijiSpec) -> Batch:
    data = path.read_bytes()
    header, codec = list(piece.header), spec.codec
    quote, delim = ord(source.quote), ord(source.delimiter)
    count_fails, byte_fails = [], []
    rows: list[tuple[str, ...]] = []
    for i, (s, e) in enumerate(piece.records):
        raw = data[s:e]
        n = _count_fields(raw, quote, delim)
        if n != len(header):
            count_fails.append(
                Failure(i, "", 0, "field_count", f"{n} fields where {len(header)} were expected")
            )
        try:
            text: str | None = raw.decode(codec)
        except UnicodeDecodeError:
            byte_fails.append(Failure(i, "", 0, "invalid_bytes", f"record is not valid {source.encoding}"))
            text = None
        ok = text is not None and n == len(header)
        rows.append(_parse_one(text, source, header) if ok else ("",) * len(header))  # type: ignore[arg-type]
    fails = count_fails + byte_fails
    columns: dict[str, list[str | None]] = {}
    hits: list[tuple[str, int, GaijiHit]] = []
    for f in source.fields:
        col = header.index(f.column)
        values: list[str | None] = []
        field_hits: list[GaijiHit] = []
        for i, row in enumerate(rows):
            value: str | None = row[col]
            if value is not None and "\ufffd" in value:
                fails.append(Failure(i, f.id, 0, "replacement_char", "decodes to U+FFFD"))
                value = None
            if value is not None:
                value, found = _gaiji(value, spec, i)
                field_hits += found
            values.append(value)
        columns[f.id] = values
        fails += hit_fails(f.id, 0, field_hits, spec.policy)
        hits += [(f.id, 0, h) for h in field_hits]
    n = len(piece.records)
    frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()}).with_columns(
        pl.lit(str(path)).alias(FILE),
        pl.int_range(piece.rec + 1, piece.rec + n + 1, dtype=pl.Int64).alias(REC),
        pl.Series(OFF, [s for s, _ in piece.records], dtype=pl.Int64),
        pl.Series(RAW, [data[s:e] for s, e in piece.records], dtype=pl.Binary),
    )
    nbytes = piece.records[-1][1] - piece.records[0][0]
    gaiji = hit_frame(hits, frame, spec.policy)
    if not fails:
        return Batch(frame, empty_rejects(), n, nbytes, gaiji)
    good, rejects = split_failures(frame, fails)
    return Batch(good, rejects, n, nbytes, gaiji)
