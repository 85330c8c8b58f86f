"""CSV reader: record boundaries found on raw bytes by quote parity, then decoded and parsed per batch.

`"`, `,`, CR and LF never occur as CP932/EUC-JP trail bytes, so splitting on them before decoding is
safe (unlike `\\` or `|`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout.errors import InputError, Location
from midlayout.layout.source import SourceFile
from midlayout.readers import Batch
from midlayout.readers.decode import CODECS, flag_suspect_chars
from midlayout.readers.fixed import split_failures
from midlayout.readers.gaiji import GaijiSpec, apply_gaiji, hit_fails, hit_frame
from midlayout.rejects import FILE, OFF, RAW, REC, empty_rejects

CHUNK_BYTES = 32 << 20
BOM = b"\xef\xbb\xbf"


def _record_ends(buf: np.ndarray, quote: int) -> np.ndarray:
    """Positions of LF bytes that end a record (outside quotes)."""
    inside = np.cumsum(buf == quote) % 2
    return np.flatnonzero((buf == 0x0A) & (inside == 0))


def _field_counts(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, quote: int, delim: int
) -> np.ndarray:
    """Number of fields in each record (delimiters outside quotes + 1)."""
    inside = np.cumsum(buf == quote) % 2
    delims = np.flatnonzero((buf == delim) & (inside == 0))
    return np.searchsorted(delims, ends) - np.searchsorted(delims, starts) + 1


def _records(path: Path, quote: int) -> Iterator[tuple[bytes, np.ndarray, np.ndarray, int]]:
    """Yield (chunk, record starts, record ends (exclusive, before CR/LF), chunk offset in file)."""
    with path.open("rb") as fh:
        carry, base = b"", 0
        first = True
        while True:
            data = fh.read(CHUNK_BYTES)
            chunk = carry + data
            if first and chunk.startswith(BOM):
                chunk, base = chunk[3:], 3
            first = False
            if not chunk:
                return
            buf = np.frombuffer(chunk, dtype=np.uint8)
            lfs = _record_ends(buf, quote)
            if not data:  # EOF: the last record may lack its newline
                lfs = np.append(lfs, len(buf)) if (not len(lfs) or lfs[-1] != len(buf) - 1) else lfs
            if not len(lfs):
                carry = chunk
                continue
            starts = np.concatenate(([0], lfs[:-1] + 1))
            ends = lfs.copy()
            crs = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 0x0D)
            ends[crs] -= 1
            yield chunk, starts, ends, base
            carry = chunk[lfs[-1] + 1 :]
            base += lfs[-1] + 1
            if not data:
                return


def _binary(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    lengths = ends - starts
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    buf = np.frombuffer(chunk, dtype=np.uint8)
    idx = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    return pa.Array.from_buffers(
        pa.large_binary(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(buf[idx].tobytes())]
    )


def _read_utf8(data: bytes, source: SourceFile, header: list[str]) -> pl.DataFrame:
    """Parse UTF-8 records with polars. Polars drops a BOM at the start of its input, so when the first
    record starts with U+FEFF (data, not a file's BOM: that was skipped when planning) a dummy row goes
    first and is skipped."""
    skip = 0
    if data.startswith(BOM):
        data, skip = source.delimiter.encode() * (len(header) - 1) + b"\n" + data, 1
    return pl.read_csv(
        data,
        has_header=False,
        new_columns=header,
        infer_schema=False,
        quote_char=source.quote,
        separator=source.delimiter,
        empty_string_is_null=False,
        raise_if_empty=False,
        skip_rows=skip,
    )


def _read_text(text: str, source: SourceFile, header: list[str]) -> pl.DataFrame:
    return _read_utf8(text.encode("utf-8"), source, header)


def _parse(
    chunk: bytes,
    raw: pa.Array,
    broken: np.ndarray,
    source: SourceFile,
    header: list[str],
    codec: str,
    span: tuple[int, int],
) -> tuple[pl.DataFrame, list[int]]:
    """Decode and parse the records; rows stay aligned with `raw`. Returns the frame and undecodable rows.

    Fast path: the whole span decodes in one call and every record has the right field count. Otherwise
    each record is decoded alone (error path only) and broken ones are parsed as empty rows.
    """
    if not broken.any():
        try:
            return _read_text(chunk[span[0] : span[1]].decode(codec), source, header), []
        except UnicodeDecodeError:
            pass
    empty = source.delimiter.encode() * (len(header) - 1)
    records, bad = raw.to_pylist(), []
    for i, rec in enumerate(records):
        try:
            rec.decode(codec)
        except UnicodeDecodeError:
            bad.append(i)
            broken[i] = True
        if broken[i]:
            records[i] = empty
    return _read_text(b"\n".join(records).decode(codec), source, header), bad


def _header(path: Path, chunk: bytes, start: int, end: int, source: SourceFile, codec: str) -> list[str]:
    try:
        names = next(
            iter(
                pl.read_csv(
                    io.BytesIO(chunk[start:end].decode(codec).encode()), has_header=False, infer_schema=False
                ).rows()
            )
        )
    except (UnicodeDecodeError, StopIteration) as exc:
        raise InputError(f"unreadable header row ({exc})", Location(file=str(path), record=0)) from None
    declared = [f.column for f in source.fields]
    missing = [c for c in declared if c not in names]
    unknown = [c for c in names if c not in declared]
    if missing or unknown:
        raise InputError(
            f"header does not match source layout {source.id!r}: missing {missing}, unexpected {unknown}",
            Location(file=str(path), record=0),
        )
    return [str(n) for n in names]


@dataclass(frozen=True)
class CsvPiece:
    """One batch of a CSV file: its records' bytes and boundaries, found on raw bytes by quote parity."""

    header: tuple[str, ...]
    data: bytes  # from the first record's start to the last record's end
    starts: np.ndarray  # record starts and ends (exclusive, before CR/LF), relative to `data`
    ends: np.ndarray
    base: int  # byte offset of `data` in the file
    rec: int  # records before this piece


def csv_pieces(source: SourceFile, path: Path, batch_size: int) -> Iterator[CsvPiece]:
    """Plan the batches of `path`: the header row is checked against the source layout and not counted."""
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    codec = CODECS[source.encoding]
    header: list[str] | None = None
    rec = 0
    for chunk, starts, ends, base in _records(path, ord(source.quote)):
        if header is None:
            header = _header(path, chunk, int(starts[0]), int(ends[0]), source, codec)
            starts, ends = starts[1:], ends[1:]
        for lo in range(0, len(starts), batch_size):
            s, e = starts[lo : lo + batch_size], ends[lo : lo + batch_size]
            first = int(s[0])
            yield CsvPiece(tuple(header), chunk[first : int(e[-1])], s - first, e - first, base + first, rec)
            rec += len(s)


def read_csv_piece(source: SourceFile, path: Path, piece: CsvPiece, spec: GaijiSpec) -> Batch:
    """Decode and parse one planned batch (in this process or a worker)."""
    return _batch(
        source,
        path,
        piece.data,
        piece.starts,
        piece.ends,
        piece.base,
        piece.rec,
        list(piece.header),
        spec,
        ord(source.quote),
        ord(source.delimiter),
    )


def _batch(
    source: SourceFile,
    path: Path,
    chunk: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    base: int,
    rec: int,
    header: list[str],
    spec: GaijiSpec,
    quote: int,
    delim: int,
) -> Batch:
    n = len(starts)
    codec = spec.codec
    raw = _binary(chunk, starts, ends)
    counts = _field_counts(np.frombuffer(chunk, dtype=np.uint8), starts, ends, quote, delim)
    broken = counts != len(header)
    fails: list[tuple[int, str, int, str, str]] = [
        (int(i), "", 0, "field_count", f"{counts[i]} fields where {len(header)} were expected")
        for i in np.flatnonzero(broken)
    ]
    parsed, bad = _parse(chunk, raw, broken, source, header, codec, (int(starts[0]), int(ends[-1])))
    fails += [(i, "", 0, "invalid_bytes", f"record is not valid {source.encoding}") for i in bad]
    columns = {}
    hits = []
    for f in source.fields:
        arr, suspects = flag_suspect_chars(parsed.get_column(f.column).to_arrow(), codec)
        fails += [(s.row, f.id, 0, s.rule, s.message) for s in suspects]
        columns[f.id], field_hits = apply_gaiji(arr, spec)
        fails += hit_fails(f.id, 0, field_hits, spec.policy)
        hits += [(f.id, 0, h) for h in field_hits]
    frame = pl.DataFrame(columns).with_columns(
        pl.lit(str(path)).alias(FILE),
        pl.int_range(rec + 1, rec + n + 1, dtype=pl.Int64).alias(REC),
        pl.Series(OFF, starts + base, dtype=pl.Int64),
        pl.Series(RAW, raw).cast(pl.Binary),
    )
    nbytes = int(ends[-1] - starts[0]) if n else 0
    gaiji = hit_frame(hits, frame, spec.policy)
    if not fails:
        return Batch(frame, empty_rejects(), n, nbytes, gaiji)
    rows, rejects = split_failures(frame, fails)
    return Batch(rows, rejects, n, nbytes, gaiji)
