"""Fixed-width reader: records are cut by BYTE offset as numpy matrices, then decoded per column."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout import kernels
from midlayout.errors import InputError, Location
from midlayout.layout.source import SourceField, SourceFile
from midlayout.readers import Batch
from midlayout.readers.dbcs import decode_dbcs
from midlayout.readers.decode import DecodeFailure
from midlayout.readers.gaiji import GaijiSpec, apply_gaiji, hit_fails, hit_frame
from midlayout.rejects import FILE, OFF, RAW, REC, Failure, empty_rejects, split_failures
from midlayout.text.numeric import decode_binary, decode_packed, decode_zoned_ascii, decode_zoned_ebcdic

_NUMERIC = {
    "zoned": (decode_zoned_ascii, "bad_zoned", "not a zoned decimal number"),
    "zoned_ebcdic": (decode_zoned_ebcdic, "bad_zoned", "not an EBCDIC zoned decimal number"),
    "packed": (decode_packed, "bad_packed", "not a packed decimal (COMP-3) number"),
}


def _check_terminators(
    matrix: np.ndarray, source: SourceFile, path: Path, first_rec: int, first_off: int
) -> None:
    term = np.frombuffer(source.terminator, dtype=np.uint8)
    if not len(term):
        return
    bad = np.flatnonzero((matrix[:, source.record_length :] != term).any(axis=1))
    if len(bad):
        rec = first_rec + int(bad[0])
        offset = first_off + int(bad[0]) * matrix.shape[1] + source.record_length
        raise InputError(
            f"record length mismatch: expected {source.record_length} bytes then {source.terminator!r}",
            Location(file=str(path), record=rec, byte=offset),
        )


@dataclass(frozen=True)
class FixedPiece:
    """One batch of a fixed-width file, by position: planned without reading, read anywhere."""

    rec: int  # number of its first record (1-based)
    off: int  # byte offset of its first record
    nbytes: int


def fixed_pieces(source: SourceFile, path: Path, batch_size: int) -> Iterator[FixedPiece]:
    """Plan the batches of `path`; a truncated last record fails here, before any batch is read."""
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    stride = source.record_length + len(source.terminator)
    size = path.stat().st_size
    complete, rest = divmod(size, stride)
    # A last record that only lacks its terminator is complete; anything else is truncated.
    missing_term = rest == source.record_length and len(source.terminator) > 0
    if rest and not missing_term:
        raise InputError(
            f"truncated last record: {rest} bytes where {stride} were expected",
            Location(file=str(path), record=complete + 1, byte=complete * stride),
        )
    step = batch_size * stride
    for off in range(0, size, step):
        yield FixedPiece(1 + off // stride, off, min(step, size - off))


def _matrix(source: SourceFile, path: Path, piece: FixedPiece) -> np.ndarray:
    """The piece's records (terminator included) as an (n × stride) matrix; terminators are checked."""
    stride = source.record_length + len(source.terminator)
    missing = len(source.terminator) if piece.nbytes % stride else 0  # a last record without its terminator
    # Read into a numpy buffer: numpy asks for transparent huge pages on large buffers, so a batch's bytes
    # fault in a few 2 MiB pages instead of thousands of 4 KiB ones (measured: 0.19 → 0.05 system CPU-s per
    # 1M 302-byte records); bytes from `read()` came from malloc's 4 KiB pages, fresh every batch.
    data = np.empty(piece.nbytes + missing, dtype=np.uint8)
    view = data.data  # a memoryview of the buffer
    got = 0
    with path.open("rb", buffering=0) as fh:
        fh.seek(piece.off)
        while got < piece.nbytes:
            n = fh.readinto(view[got : piece.nbytes])
            if not n:
                break
            got += n
    if got != piece.nbytes:
        raise InputError("file changed while it was read", Location(file=str(path), byte=piece.off + got))
    if missing:
        data[piece.nbytes :] = np.frombuffer(source.terminator, dtype=np.uint8)
    matrix = data.reshape(-1, stride)
    _check_terminators(matrix, source, path, piece.rec, piece.off)
    return matrix


def _raw_column(matrix: np.ndarray, record_length: int) -> pl.Series:
    """The records' bytes (terminator excluded) as a Binary column.

    Polars holds binary as views (length, prefix, buffer, offset), so the column can point into the
    piece's buffer as read instead of copying it twice (contiguous records, then polars' own buffer).
    """
    n, stride = matrix.shape
    if record_length <= 12 or matrix.nbytes >= 2**31 or not matrix.flags.c_contiguous:
        offsets = np.arange(0, (n + 1) * record_length, record_length, dtype=np.int64)[: n + 1]
        data = np.ascontiguousarray(matrix[:, :record_length])
        arr = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        return pl.Series(RAW, arr).cast(pl.Binary)
    # An Arrow binary view: int32 length, the first 4 bytes, int32 buffer index, int32 offset in the buffer.
    views = np.empty((n, 16), dtype=np.uint8)
    views[:, 0:4] = np.array([record_length], dtype="<i4").view(np.uint8)
    views[:, 4:8] = matrix[:, :4]
    views[:, 8:12] = 0
    views[:, 12:16] = (np.arange(n, dtype="<i4") * stride).view(np.uint8).reshape(n, 4)
    arr = pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(matrix)])
    return pl.Series(RAW, arr)


def _decode_number(field: SourceField, values: np.ndarray) -> tuple[pa.Array, list[DecodeFailure]]:
    """Mainframe numerics, vectorised (text/numeric.py); a bad value is located at the field start."""
    if field.type == "binary":
        number, valid, null = decode_binary(values, field.signed, field.byteorder)
        rule, message = "bad_binary", "unsigned binary value exceeds a 64-bit integer"
    else:
        decoder, rule, message = _NUMERIC[field.type]
        number, valid, null = decoder(values)
    fails = [DecodeFailure(int(r), 0, rule, message) for r in np.flatnonzero(~valid & ~null)]
    present = valid & ~null
    validity = None if present.all() else pa.py_buffer(np.packbits(present, bitorder="little"))
    # From buffers: pa.array(ndarray, mask=...) imports pandas to look for categoricals (0.6 s per process).
    if field.scale:  # COBOL V: the digits as read, with an implied decimal point (decimal128, exact)
        wide = np.empty((len(number), 2), dtype=np.int64)
        wide[:, 0] = number
        wide[:, 1] = np.asarray(number, dtype=np.int64) >> 63
        dtype = pa.decimal128(18, field.scale)
        return pa.Array.from_buffers(dtype, len(number), [validity, pa.py_buffer(wide)]), fails
    data = pa.py_buffer(np.ascontiguousarray(number, dtype=np.int64))
    return pa.Array.from_buffers(pa.int64(), len(number), [validity, data]), fails


def _decode_field(
    field: SourceField, records: np.ndarray, spec: GaijiSpec, high: np.ndarray | None
) -> tuple[pa.Array, list[DecodeFailure], list]:
    values = records[:, field.start : field.start + field.length]
    if field.type == "dbcs":
        arr, failures = decode_dbcs(values, spec.codec)
    elif field.type != "text":
        return (*_decode_number(field, values), [])
    else:
        assert high is not None
        arr, failures = kernels.active().decode_column(
            values, spec.codec, not high[field.start : field.start + field.length].any()
        )
    arr, hits = apply_gaiji(arr, spec, shifted=field.type != "dbcs", raw=values)
    return arr, failures, hits


def read_fixed_piece(source: SourceFile, path: Path, piece: FixedPiece, spec: GaijiSpec) -> Batch:
    """Read and decode one planned batch (in this process or a worker).

    Text fields named in `spec.reader_trims` are trimmed (and their half-width kana made full-width) as
    they are decoded (the compiled mapping left those ops to the reader, mapping/pushdown.py).
    """
    return _batch(source, path, _matrix(source, path, piece), piece.rec, piece.off, piece.nbytes, spec)


def _native_fields(
    source: SourceFile, matrix: np.ndarray, spec: GaijiSpec, trims: dict[str, int]
) -> dict[str, tuple[pa.Array, list[DecodeFailure], list]]:
    """Every text field through the fused decoder (readers/native.py), when it handles the codec and the
    running conversion uses the library's own kernels (a test's reference twins get the reference path)."""
    from midlayout.readers.native import decode_fields, native_codec

    text = [f for f in source.fields if f.type == "text"]
    if not text or not native_codec(spec.codec) or kernels.active() is not kernels.get(kernels.FAST):
        return {}
    results = decode_fields(
        matrix, [f.start for f in text], [f.length for f in text], [trims.get(f.id, 0) for f in text], spec
    )
    return {f.id: (r.array, r.failures, r.hits) for f, r in zip(text, results, strict=True)}


def _reader_ops(arr: pa.Array, mode: int) -> pa.Array:
    """What the fused decoder applies for `mode` (readers.native.TRIM_*, KANA), on a decoded column."""
    import pyarrow.compute as pc

    from midlayout.readers.native import KANA, TRIM_BOTH, TRIM_MASK, TRIM_NONE, zenkaku_kana

    if mode & TRIM_MASK != TRIM_NONE:
        trim = pc.utf8_trim if mode & TRIM_MASK == TRIM_BOTH else pc.utf8_rtrim
        arr = trim(arr, characters=" \u3000")
    return zenkaku_kana(arr) if mode & KANA else arr


def _batch(
    source: SourceFile, path: Path, matrix: np.ndarray, rec: int, off: int, nbytes: int, spec: GaijiSpec
) -> Batch:
    records = matrix[:, : source.record_length]
    n = records.shape[0]
    columns: dict[str, pl.Series] = {}
    fails: list[Failure] = []
    hits = []
    trims = dict(spec.reader_trims)
    native = _native_fields(source, matrix, spec, trims)
    high = (
        np.asarray((records >= 0x80).any(axis=0))  # per byte position: does any record hold a non-ASCII byte
        if any(f.type == "text" and f.id not in native for f in source.fields)
        else None
    )
    for field in source.data_fields:
        if field.id in native:
            arr, field_fails, field_hits = native[field.id]
        else:
            arr, field_fails, field_hits = _decode_field(field, records, spec, high)
            if trims.get(field.id):
                arr = _reader_ops(arr, trims[field.id])
        columns[field.id] = pl.Series(field.id, arr)  # polars copies text: one column's arrow copy at a time
        # byte_offset is the field's offset; where the problem is inside the field goes in the message
        fails += [
            Failure(f.row, field.id, field.start, f.rule, f"{f.message} (byte {f.byte} of the field)")
            for f in field_fails
        ]
        fails += hit_fails(field.id, field.start, field_hits, spec.policy)
        hits += [(field.id, field.start, h) for h in field_hits]
    stride = matrix.shape[1]
    frame = pl.DataFrame(columns).with_columns(
        pl.lit(str(path)).alias(FILE),
        pl.int_range(rec, rec + n, dtype=pl.Int64).alias(REC),
        pl.int_range(off, off + n * stride, stride, dtype=pl.Int64).alias(OFF),
        _raw_column(matrix, source.record_length),
    )
    gaiji = hit_frame(hits, frame, spec.policy)
    if not fails:
        return Batch(frame, empty_rejects(), n, nbytes, gaiji)
    rows, rejects = split_failures(frame, fails)
    return Batch(rows, rejects, n, nbytes, gaiji)
