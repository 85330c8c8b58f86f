"""Strict column decoding: one codec call per column, exact locations when a value fails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from midlayout import kernels
from midlayout.text import ebcdic, mainframe
from midlayout.text.utf8 import utf8_bytes

# LF is never a CP932/EUC-JP trail byte nor part of a UTF-8 multibyte sequence, so a field followed by LF
# decodes exactly as the field alone, and a lead byte cut at the field end fails against it. EBCDIC
# frames with its own LF (0x25), which also decodes to U+000A (see text/ebcdic.py).
SEP = 0x0A

ebcdic.register()
mainframe.register()


def is_ebcdic(codec: str) -> bool:
    """True for the stateful IBM host code pages (no ASCII subset, SO/SI shifts)."""
    return codec in ebcdic.CHARSETS


def is_host(codec: str) -> bool:
    """True for every mainframe code (IBM, JEF, KEIS, JIPS): no ASCII subset, shifted double bytes."""
    return is_ebcdic(codec) or mainframe.is_mainframe(codec)


@dataclass(frozen=True)
class DecodeFailure:
    """A value that did not decode: row index in the batch, byte offset within the field, and why."""

    row: int
    byte: int
    rule: str
    message: str


def _ascii_array(values: np.ndarray) -> pa.Array:
    n, width = values.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)[: n + 1]
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(values))]
    )


def _joined_array(values: np.ndarray, codec: str) -> pa.Array:
    """Decode all values in one call; raises UnicodeDecodeError on the first bad byte."""
    n, width = values.shape
    framed = np.empty((n, width + 1), dtype=np.uint8)
    framed[:, :width] = values
    framed[:, width] = ebcdic.SEP if is_ebcdic(codec) else SEP
    utf8 = np.frombuffer(framed.tobytes().decode(codec).encode("utf-8"), dtype=np.uint8)
    seps = np.flatnonzero(utf8 == SEP)
    if len(seps) != n:
        raise ValueError("a value holds a line feed")
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = seps - np.arange(n)
    data = np.delete(utf8, seps)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


_FFFD = (b"\xef\xbf\xbd",)


def may_hold(arr: pa.Array, prefixes: tuple[bytes, ...]) -> bool:
    """False only when no value can hold a character whose UTF-8 starts with one of `prefixes`.

    A byte scan of the whole column (vectorised): it lets the common column, with nothing to find,
    skip the per-value search. Each prefix is 1 to 3 bytes; a trailing range byte is not supported.
    """
    buf = utf8_bytes(arr)
    if buf is None:
        return True
    for prefix in prefixes:
        hit = buf[: len(buf) - len(prefix) + 1] == prefix[0]
        for k, byte in enumerate(prefix[1:], start=1):
            hit &= buf[k : len(buf) - len(prefix) + 1 + k] == byte
        if hit.any():
            return True
    return False


_TRUNCATED = ("incomplete multibyte sequence", "unexpected end of data")


def _classify(raw: bytes, exc: UnicodeDecodeError, codec: str) -> tuple[int, str, str]:
    """(byte offset in the field, rule, message) for a value that failed to decode."""
    pos = exc.start
    if exc.end == len(raw) and exc.reason in _TRUNCATED:
        return pos, "char_cut", f"double-byte character cut at the field end (byte 0x{raw[pos]:02X})"
    return pos, "invalid_bytes", f"bytes 0x{raw[pos : exc.end].hex().upper()} are not valid {codec}"


def _slow_path(values: np.ndarray, codec: str) -> tuple[list[str | None], list[DecodeFailure]]:
    """Per value, only for a batch that failed the one-call decode: finds every bad value exactly."""
    out: list[str | None] = []
    failures = []
    for row, raw in enumerate(bytes(v) for v in values):
        try:
            out.append(raw.decode(codec))
        except UnicodeDecodeError as exc:
            pos, rule, message = _classify(raw, exc, codec)
            failures.append(DecodeFailure(row, pos, rule, message))
            out.append(None)
    return out, failures


def decode_column(
    values: np.ndarray, codec: str, ascii_only: bool | None = None, shifted: bool = True
) -> tuple[pa.Array, list[DecodeFailure]]:
    """Decode an (n × width) uint8 matrix of one field into strings, strictly.

    ASCII-only columns skip the codec (not EBCDIC ones); `ascii_only` passes that fact when the caller
    already knows it (None: look). Failures (invalid bytes, a character cut at the field end, U+FFFD)
    come back with their row and byte; their value is null. 外字 are left in place for `readers.gaiji`
    to map, flag or reject. JEF/KEIS/JIPS columns are decoded by text/mainframe (table-driven, per column);
    `shifted=False` reads them as pure double-byte fields (COBOL PIC N).
    """
    if mainframe.is_mainframe(codec):
        arr, fails = mainframe.decode_matrix(values, codec, shifted)
        return arr, [DecodeFailure(row, byte, rule, message) for row, byte, rule, message in fails]
    if ascii_only is None:
        ascii_only = not values.size or not (values >= 0x80).any()
    if not is_ebcdic(codec) and ascii_only:
        return _ascii_array(values), []
    try:
        arr = _joined_array(values, codec)
        failures: list[DecodeFailure] = []
    except (UnicodeDecodeError, ValueError):
        texts, failures = _slow_path(values, codec)
        arr = pa.array(texts, type=pa.large_string())
    return flag_suspect_chars(arr, codec, failures)


def flag_suspect_chars(
    arr: pa.Array, codec: str, failures: list[DecodeFailure] | None = None
) -> tuple[pa.Array, list[DecodeFailure]]:
    """Null out values holding U+FFFD and report each with its byte offset."""
    import pyarrow.compute as pc

    failures = failures if failures is not None else []
    if not kernels.active().may_hold(arr, _FFFD):
        return arr, failures
    suspect = pc.match_substring(arr, "\ufffd")
    rows = np.flatnonzero(pc.fill_null(suspect, False).to_numpy(zero_copy_only=False))
    if not len(rows):
        return arr, failures
    texts = arr.to_pylist()
    for row in rows:
        text = texts[row]
        byte = len(text[: text.index("\ufffd")].encode(codec, errors="replace"))
        failures.append(DecodeFailure(int(row), byte, "replacement_char", "decodes to U+FFFD"))
        texts[row] = None
    return pa.array(texts, type=pa.large_string()), failures
