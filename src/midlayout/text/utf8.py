"""UTF-8 at the byte level, vectorised: the bytes behind a string column, and a strict validity check."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def utf8_bytes(arr: pa.Array) -> np.ndarray | None:
    """The UTF-8 bytes of all values of a (large_)string array, concatenated; None for other layouts."""
    width: type[np.signedinteger]
    if arr.type == pa.large_string():
        width = np.int64
    elif arr.type == pa.string():
        width = np.int32
    else:
        return None
    offsets, data = arr.buffers()[1:3]
    if data is None or not len(arr):
        return np.zeros(0, dtype=np.uint8)
    bounds = np.frombuffer(offsets, dtype=width)[[arr.offset, arr.offset + len(arr)]]
    return np.frombuffer(data, dtype=np.uint8)[int(bounds[0]) : int(bounds[1])]


def valid_utf8(data: bytes) -> bool:
    """Strict UTF-8 (no surrogates, overlongs or code points past U+10FFFF), in one vectorised pass and
    without building a str: Arrow's check of a one-value string array over the bytes."""
    offsets = np.array([0, len(data)], dtype=np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def string_buffers(s: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets as int64, data bytes, validity) of a String series as Arrow large_string buffers: the
    values' bytes, for kernels that parse them in place (one copy at most, when polars holds views)."""
    arr = s.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    validity, offsets, data = arr.buffers()[:3]
    off = np.frombuffer(offsets, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    valid = np.ones(n, dtype=bool) if validity is None else ~np.asarray(arr.is_null())
    return off, buf, valid
