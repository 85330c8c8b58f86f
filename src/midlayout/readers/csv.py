"""CSV reader: record boundaries found on raw bytes by quote parity, then decoded and parsed per batch.

`"`, `,`, CR and LF never occur as CP932/EUC-JP trail bytes, so splitting on them before decoding is
safe (unlike `\\` or `|`).
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout.errors import InputError, Location
from midlayout.layout.source import SourceFile
from midlayout.readers import Batch
from midlayout.readers.csvframe import CR, LF, Framed, Special, field_counts, frame, requote
from midlayout.readers.decode import flag_suspect_chars
from midlayout.readers.gaiji import GaijiSpec, apply_gaiji, hit_fails, hit_frame
from midlayout.rejects import FILE, OFF, RAW, REC, Failure, empty_rejects, split_failures
from midlayout.text.encodings import CODECS
from midlayout.text.utf8 import valid_utf8

CHUNK_BYTES = 32 << 20
FRAMING_RULES = frozenset({"quote_malformed", "quote_unclosed"})  # their offset is the framing parser's
BOM = b"\xef\xbb\xbf"


def _records(path: Path, source: SourceFile) -> Iterator[tuple[bytes, Framed, int]]:
    """Yield (chunk, its framed records, chunk offset in file): records are framed by `csvframe.frame`,
    so a quoting error costs the record that holds it and no more."""
    quote, delim = ord(source.quote), ord(source.delimiter)
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
            framed = frame(
                chunk,
                quote=quote,
                delim=delim,
                nfields=len(source.fields),
                eof=not data,
                base=base,
                literal=source.bare_quotes == "literal",
            )
            if len(framed.starts):
                yield chunk, framed, base
            carry = chunk[framed.consumed :]
            base += framed.consumed
            if not data:
                return


def _binary(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The records' bytes without their line ends, as one Arrow binary view array that points into the
    piece's buffer as read (no copy; polars holds binary as views too). A view is an int32 length and
    either the value inline (up to 12 bytes) or its first 4 bytes, buffer 0 and the int32 offset."""
    n = len(starts)
    if buf.nbytes >= 2**31:  # offsets are int32: a plain binary copy instead
        return _binary_copy(buf, starts, ends)
    lengths = (ends - starts).astype("<i4")
    views = np.zeros((n, 4), dtype="<i4")  # length, prefix, buffer index, offset
    views[:, 0] = lengths
    short = lengths <= 12
    long = np.flatnonzero(~short)
    if len(long):  # a long record is at least 13 bytes: its first 4 are in the buffer
        prefix = np.ndarray((len(buf) - 3,), dtype="<i4", buffer=buf, strides=(1,))  # unaligned words
        views[long, 1] = prefix[starts[long]]
        views[long, 3] = starts[long]
    if short.any():  # inline: the value, zero-padded
        k = np.arange(12)
        rows = np.flatnonzero(short)
        at = np.minimum(starts[rows, None] + k[None, :], max(len(buf) - 1, 0))
        head = buf[at] if len(buf) else np.zeros((len(rows), 12), dtype=np.uint8)
        inline = np.where(k[None, :] < lengths[rows, None], head, 0).astype(np.uint8)
        views.view(np.uint8).reshape(n, 16)[rows, 4:16] = inline
    return pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(buf)])


def _binary_copy(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The records' bytes without their line ends, copied into one array: the span minus the CR/LF
    between records."""
    n = len(starts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    span = buf[int(starts[0]) : int(ends[-1])] if n else buf[:0]
    if n > 1:
        keep = np.ones(len(span), dtype=bool)
        gaps = ends[:-1] - starts[0]
        keep[gaps] = False  # the LF, or the CR of a CRLF (a record's next start is its LF + 1)
        crlf = starts[1:] - ends[:-1] == 2
        keep[gaps[crlf] + 1] = False
        span = span[keep]
    return pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(span))]
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


def _to_utf8(data: bytes, codec: str) -> bytes | None:
    """The batch's bytes (not UTF-8) as UTF-8 for polars' parser, or None when they do not decode
    (strictly). They decode once, and the text is dropped as soon as it is encoded; UTF-8 input is not
    passed here (polars checks it as it parses, `_parse`)."""
    try:
        return data.decode(codec).encode("utf-8")
    except UnicodeDecodeError:
        return None


def _parse(
    data: bytes,
    raw: pa.Array,
    broken: np.ndarray,
    source: SourceFile,
    header: list[str],
    codec: str,
    literal: frozenset[int] = frozenset(),
) -> tuple[pl.DataFrame, list[tuple[int, int]], bytes]:
    """Decode and parse the records; rows stay aligned with `raw`. Returns the frame, the undecodable
    rows (with the offset of the first bad byte in the record) and the UTF-8 bytes polars parsed (every
    value is a piece of them).

    Fast path: the whole batch decodes in one call and every record has the right field count. Otherwise
    each record is decoded alone (error path only) and broken ones are parsed as empty rows. `literal`
    rows hold quotes kept as text (`bare_quotes: literal`): they are quoted again for the parser.
    """
    if not broken.any() and not literal:
        if codec == "utf-8":  # polars checks UTF-8 strictly as it parses: no pass of our own first
            try:
                return _read_utf8(data, source, header), [], data
            except pl.exceptions.ComputeError:
                if valid_utf8(data):  # another parse error: raised as before
                    raise
        else:
            utf8 = _to_utf8(data, codec)
            if utf8 is not None:
                return _read_utf8(utf8, source, header), [], utf8
    empty = source.delimiter.encode() * (len(header) - 1)
    records, bad = raw.to_pylist(), []
    for i, rec in enumerate(records):
        try:
            rec.decode(codec)
        except UnicodeDecodeError as exc:
            bad.append((i, exc.start))
            broken[i] = True
        if broken[i]:
            records[i] = empty
        elif i in literal:
            records[i] = requote(rec, ord(source.quote), ord(source.delimiter))
    utf8 = b"\n".join(records).decode(codec).encode("utf-8")
    return _read_utf8(utf8, source, header), bad, utf8


def _may_hold_suspects(utf8: bytes, spec: GaijiSpec) -> bool:
    """False only when no value can hold U+FFFD or a 外字: one scan of the batch, so that the common
    batch skips the per-column searches (`flag_suspect_chars`, `apply_gaiji`).

    Private use is EE xx xx (U+E000-U+EFFF), EF 80-A3 (U+F000-U+F8FF) and F3 B0+/F4 (planes 15-16);
    U+FFFD is EF BF BD. Bytes >= 0xEE are rare in Japanese text but for EF (full-width forms)."""
    if spec.replacements or spec.declared:
        return True
    buf = np.frombuffer(utf8, dtype=np.uint8)
    high = np.flatnonzero(buf >= 0xEE)
    if not len(high):
        return False
    lead = buf[high]
    if ((lead == 0xEE) | (lead >= 0xF3)).any():
        return True
    second = buf[np.minimum(high + 1, len(buf) - 1)]
    return bool(((lead == 0xEF) & ((second <= 0xA3) | (second == 0xBF))).any())


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


def field_starts(raw: bytes, quote: int, delim: int) -> list[int]:
    """Where each field of a well-framed record starts (its first byte: a quoted field's opening quote),
    as offsets in the record. A quoted field runs to its closing quote (a doubled quote is text), an
    unquoted one to the next delimiter. Error path only (rejects), one record at a time."""
    q, d = bytes([quote]), bytes([delim])
    out, i, n = [0], 0, len(raw)
    while True:
        if i < n and raw[i] == quote:
            j = i + 1
            while True:
                k = raw.find(q, j)
                if k == -1:
                    j = n
                    break
                if k + 1 < n and raw[k + 1] == quote:
                    j = k + 2
                    continue
                j = k + 1
                break
            i = j
        nxt = raw.find(d, i)
        if nxt == -1:
            return out
        i = nxt + 1
        out.append(i)


class _FieldStarts:
    """Field offsets of the records of a batch, parsed on demand (rows that are rejected only)."""

    def __init__(self, raw: pa.Array, header: list[str], source: SourceFile) -> None:
        self.raw, self.quote, self.delim = raw, ord(source.quote), ord(source.delimiter)
        index = {c: k for k, c in enumerate(header)}
        self.index = {f.id: index[f.column] for f in source.fields if f.column in index}
        self.cache: dict[int, list[int]] = {}

    def starts(self, row: int) -> list[int]:
        if row not in self.cache:
            self.cache[row] = field_starts(self.raw[row].as_py(), self.quote, self.delim)
        return self.cache[row]

    def start(self, row: int, field: str) -> int:
        """The field's offset in the record (0 when the field or record is unknown)."""
        k = self.index.get(field)
        starts = self.starts(row) if k is not None else []
        return starts[k] if k is not None and k < len(starts) else 0

    def content(self, row: int, field: str) -> int:
        """Where the field's value starts (after an opening quote)."""
        at = self.start(row, field)
        raw = self.raw[row].as_py()
        return at + 1 if at < len(raw) and raw[at] == self.quote else at

    def at_field(self, fail: Failure) -> Failure:
        """`fail` with the offset of its field (framing faults already carry it; whole-record ones keep 0)."""
        if not fail.field or fail.rule in FRAMING_RULES:
            return fail
        return replace(fail, byte=self.start(fail.row, fail.field))


def field_offsets(rejects: pl.DataFrame, source: SourceFile, header: list[str]) -> pl.DataFrame:
    """Map rejects of a CSV batch with `byte_offset` at their field (the record start as staged): the
    field's offset is found in each rejected record's raw bytes."""
    if not rejects.height or rejects.get_column("field").null_count() == rejects.height:
        return rejects
    index = {c: k for k, c in enumerate(header)}
    column = {f.id: index[f.column] for f in source.fields if f.column in index}
    quote, delim = ord(source.quote), ord(source.delimiter)
    offsets = []
    for raw, rec, name in rejects.select("raw", "record_offset", "field").iter_rows():
        k = column.get(name) if name is not None else None
        starts = field_starts(raw, quote, delim) if k is not None and raw is not None else []
        offsets.append(rec + starts[k] if k is not None and k < len(starts) else rec)
    return rejects.with_columns(pl.Series("byte_offset", offsets, dtype=pl.Int64))


@dataclass(frozen=True, eq=False)
class CsvPiece:
    """One batch of a CSV file, by position, with its records as the planner framed them (on raw bytes),
    so that the worker that reads it does not frame again."""

    header: tuple[str, ...]
    base: int  # byte offset of its first record in the file
    nbytes: int  # up to the start of the next record (line end included) or the end of the file
    rec: int  # records before this piece
    records: int  # records in it
    specials: tuple[Special, ...] = ()  # records the planner framed byte by byte (around quoting errors)
    starts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # from `base`
    ends: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # before CR/LF
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))  # fields per record


def csv_pieces(source: SourceFile, path: Path, batch_size: int) -> Iterator[CsvPiece]:
    """Plan the batches of `path`: the header row is checked against the source layout and not counted.
    Each batch carries its records' starts, ends and field counts."""
    if path.is_dir():
        raise InputError("is a directory, not a file", Location(file=str(path)))
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    codec = CODECS[source.encoding]
    quote, delim = ord(source.quote), ord(source.delimiter)
    header: list[str] | None = None
    rec = 0
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # a batch not yet full (file offsets)
    held: list[Special] = []
    end = 0  # where the pending batch ends in the file (the next record's start)

    def piece() -> CsvPiece:
        st, en, ct = (np.concatenate(x) for x in zip(*parts, strict=True))
        first = int(st[0])
        return CsvPiece(
            tuple(header or ()), first, end - first, rec, len(st), tuple(held), st - first, en - first, ct
        )

    for chunk, framed, base in _records(path, source):
        starts, ends, nexts, specials = framed.starts, framed.ends, framed.nexts, framed.specials
        counts = field_counts(chunk, framed, quote, delim).astype(np.int32)
        skip = 0
        if header is None:
            if 0 in specials and specials[0].rule:
                raise InputError(
                    f"unreadable header row ({specials[0].message})", Location(file=str(path), record=0)
                )
            header = _header(path, chunk, int(starts[0]), int(ends[0]), source, codec)
            skip = 1
        lo = skip
        while lo < len(starts):
            pending = sum(len(x[0]) for x in parts)
            hi = lo + min(batch_size - pending, len(starts) - lo)
            parts.append((starts[lo:hi] + base, ends[lo:hi] + base, counts[lo:hi]))
            if specials:
                held += [specials[i] for i in range(lo, hi) if i in specials]
            end = base + int(nexts[hi - 1])
            lo = hi
            if sum(len(x[0]) for x in parts) == batch_size:
                yield piece()
                rec += batch_size
                parts, held = [], []
    if parts and header is not None:
        yield piece()


def _piece_records(source: SourceFile, path: Path, piece: CsvPiece) -> tuple[bytes, Framed]:
    """The piece's bytes and its records as planned (the line ends are checked to still be there)."""
    with path.open("rb") as fh:
        fh.seek(piece.base)
        data = fh.read(piece.nbytes)
    n = len(data)
    starts, ends = piece.starts, piece.ends
    buf = np.frombuffer(data, dtype=np.uint8)
    inside = ends[ends < n]
    if n != piece.nbytes or len(starts) != piece.records or not np.isin(buf[inside], (LF, CR)).all():
        raise InputError("file changed while it was read", Location(file=str(path), byte=piece.base))
    rows = np.searchsorted(starts, [sp.start - piece.base for sp in piece.specials])
    specials = {int(r): sp for r, sp in zip(rows, piece.specials, strict=True)}
    framed = Framed(
        starts, ends, np.empty(0, dtype=np.int64), specials, n, np.empty(0, dtype=np.int64), piece.counts
    )
    return data, framed


def read_csv_piece(source: SourceFile, path: Path, piece: CsvPiece, spec: GaijiSpec) -> Batch:
    """Read, decode and parse one planned batch (in this process or a worker)."""
    data, framed = _piece_records(source, path, piece)
    starts, ends = framed.starts, framed.ends
    buf = np.frombuffer(data, dtype=np.uint8)
    header = list(piece.header)
    counts = field_counts(data, framed, ord(source.quote), ord(source.delimiter))
    raw = _binary(buf, starts, ends)
    del buf
    broken = counts != len(header)
    fails: list[Failure] = [
        Failure(int(i), "", 0, "field_count", f"{counts[i]} fields where {len(header)} were expected")
        for i in np.flatnonzero(broken)
    ]
    ids = {f.column: f.id for f in source.fields}
    for row, sp in framed.specials.items():
        if sp.rule:
            broken[row] = True
            column = header[sp.field_index] if sp.field_index < len(header) else ""
            fails.append(Failure(row, ids.get(column, ""), sp.field_start, sp.rule, sp.message))
    fails.sort(key=lambda fail: fail.row)  # framing faults in record order (a record has one at most)
    literal = frozenset(row for row, sp in framed.specials.items() if not sp.rule)
    parsed, bad, utf8 = _parse(data, raw, broken, source, header, spec.codec, literal)
    del data
    where = _FieldStarts(raw, header, source)
    for i, pos in bad:  # the field that holds the first byte that does not decode (unless quoting is broken)
        k = bisect.bisect_right(where.starts(i), pos) - 1
        faulted = i in framed.specials and framed.specials[i].rule
        column = header[k] if k < len(header) and not faulted else ""
        fails.append(
            Failure(i, ids.get(column, ""), 0, "invalid_bytes", f"record is not valid {source.encoding}")
        )
    hits = []
    if _may_hold_suspects(utf8, spec):
        columns = {}
        for f in source.fields:
            arr, suspects = flag_suspect_chars(parsed.get_column(f.column).to_arrow(), spec.codec)
            fails += [Failure(s.row, f.id, 0, s.rule, s.message) for s in suspects]
            columns[f.id], field_hits = apply_gaiji(arr, spec)
            fails += hit_fails(f.id, 0, field_hits, spec.policy)
            hits += [(f.id, where.content(h.row, f.id), h) for h in field_hits]
        frame = pl.DataFrame(columns)
    else:
        frame = parsed.select(pl.col(f.column).alias(f.id) for f in source.fields)
    del utf8, parsed
    n = len(starts)
    frame = frame.with_columns(
        pl.lit(str(path)).alias(FILE),
        pl.int_range(piece.rec + 1, piece.rec + n + 1, dtype=pl.Int64).alias(REC),
        pl.Series(OFF, starts + piece.base, dtype=pl.Int64),
        pl.Series(RAW, raw).cast(pl.Binary),  # a view array: no copy
    )
    nbytes = int(ends[-1] - starts[0]) if n else 0
    gaiji = hit_frame(hits, frame, spec.policy)
    fails = [where.at_field(f) for f in fails]
    if not fails:
        return Batch(frame, empty_rejects(), n, nbytes, gaiji)
    rows, rejects = split_failures(frame, fails)
    return Batch(rows, rejects, n, nbytes, gaiji)
