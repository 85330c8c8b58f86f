"""Vectorised numpy decoding of mainframe numerics (zoned, packed, binary) from fixed-width byte columns.

Every decoder takes a 2-D uint8 array (records x field width) and returns three arrays of length n:
``value`` (int64, 0 where invalid or null), ``valid`` (bool) and ``null`` (bool, blank field).
"""

from __future__ import annotations

import numpy as np

__all__ = ["decode_binary", "decode_packed", "decode_zoned_ascii", "decode_zoned_ebcdic"]

Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]

_MAX_DIGITS = 18  # 10**18 - 1 always fits in int64
_INVALID = -1


def _matrix(values: np.ndarray) -> np.ndarray:
    """Check that `values` is a 2-D uint8 array with at least one column."""
    if not isinstance(values, np.ndarray) or values.dtype != np.uint8 or values.ndim != 2:
        raise TypeError("values must be a 2-D numpy uint8 array (records x field width)")
    if values.shape[1] == 0:
        raise ValueError("field width must be at least 1 byte")
    return values


def _table(entries: dict[int, int]) -> np.ndarray:
    """A 256-entry int8 lookup table, -1 (invalid) except for `entries`."""
    table = np.full(256, _INVALID, dtype=np.int8)
    for byte, result in entries.items():
        table[byte] = result
    return table


def _digits_value(digits: np.ndarray) -> np.ndarray:
    """Combine a (n x k) array of decimal digits 0..9 into int64 values."""
    if digits.shape[1] > _MAX_DIGITS:
        raise ValueError(f"more than {_MAX_DIGITS} digits do not fit in int64")
    powers = 10 ** np.arange(digits.shape[1] - 1, -1, -1, dtype=np.int64)
    return digits.astype(np.int64) @ powers


def _zoned(values: np.ndarray, body: np.ndarray, last: np.ndarray, sign: np.ndarray, blank: int) -> Decoded:
    """Shared zoned decoder: per-byte lookup tables for body digits, last digit and last sign."""
    values = _matrix(values)
    is_blank = values == blank
    null = is_blank.all(axis=1)
    digits = np.concatenate([body[values[:, :-1]], last[values[:, -1:]]], axis=1)
    after_first = np.logical_or.accumulate(~is_blank, axis=1)
    blank_inside = (is_blank & after_first).any(axis=1)
    leading = is_blank & ~after_first
    valid = ~null & ~blank_inside & ((digits >= 0) | leading).all(axis=1)
    magnitude = _digits_value(np.where(valid[:, None] & (digits >= 0), digits, 0))
    value = magnitude * sign[values[:, -1]].astype(np.int64)
    return np.where(valid, value, 0), valid, null


_ASCII_DIGITS = {0x30 + i: i for i in range(10)}
_ASCII_BODY = _table(_ASCII_DIGITS)
_ASCII_LAST = _table(
    {**_ASCII_DIGITS, ord("{"): 0, ord("}"): 0}
    | {ord("A") + i: i + 1 for i in range(9)}
    | {ord("J") + i: i + 1 for i in range(9)}
)
_ASCII_SIGN = _table({b: 1 for b in range(256)} | {ord("}"): -1} | {ord("J") + i: -1 for i in range(9)})


def decode_zoned_ascii(values: np.ndarray) -> Decoded:
    """Decode ASCII zoned decimal (CP932 extracts) into (value, valid, null).

    Digits '0'-'9' with optional leading spaces; the last byte may carry a signed overpunch:
    '{' 'A'-'I' are +0..+9, '}' 'J'-'R' are -0..-9. An all-space field is null.
    """
    return _zoned(values, _ASCII_BODY, _ASCII_LAST, _ASCII_SIGN, blank=0x20)


_EBCDIC_BODY = _table({0xF0 + i: i for i in range(10)})
_EBCDIC_LAST = _table({zone + i: i for zone in (0xC0, 0xD0, 0xF0) for i in range(10)})
_EBCDIC_SIGN = _table({b: 1 for b in range(256)} | {0xD0 + i: -1 for i in range(10)})


def decode_zoned_ebcdic(values: np.ndarray) -> Decoded:
    """Decode EBCDIC zoned decimal into (value, valid, null).

    Digits 0xF0-0xF9 with optional leading EBCDIC spaces (0x40); the last byte's zone nibble is
    0xC (positive), 0xD (negative) or 0xF (unsigned). An all-0x40 field is null.
    """
    return _zoned(values, _EBCDIC_BODY, _EBCDIC_LAST, _EBCDIC_SIGN, blank=0x40)


def decode_packed(values: np.ndarray) -> Decoded:
    """Decode packed decimal (COMP-3) into (value, valid, null).

    Two digits per byte, the last nibble is the sign: 0xC or 0xF positive, 0xD negative. Any other
    digit or sign nibble is invalid. A field of only EBCDIC (0x40) or ASCII (0x20) spaces is null.
    """
    values = _matrix(values)
    nibbles = np.stack([values >> 4, values & 0x0F], axis=2).reshape(values.shape[0], 2 * values.shape[1])
    digits, sign = nibbles[:, :-1], nibbles[:, -1]
    null = (values == 0x40).all(axis=1) | (values == 0x20).all(axis=1)
    valid = (digits <= 9).all(axis=1) & np.isin(sign, (0x0C, 0x0D, 0x0F))
    magnitude = _digits_value(np.where(valid[:, None], digits, 0))
    value = np.where(sign == 0x0D, -magnitude, magnitude)
    return np.where(valid, value, 0), valid, null


def decode_binary(values: np.ndarray, signed: bool = True, byteorder: str = "big") -> Decoded:
    """Decode 2-, 4- or 8-byte two's-complement (or unsigned) integers into (value, valid, null).

    Unsigned 8-byte values above the int64 maximum are invalid; binary fields are never null.
    """
    values = _matrix(values)
    width = values.shape[1]
    if width not in (2, 4, 8):
        raise ValueError(f"binary fields are 2, 4 or 8 bytes wide, not {width}")
    if byteorder not in ("big", "little"):
        raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")
    dtype = np.dtype(f"{'>' if byteorder == 'big' else '<'}{'i' if signed else 'u'}{width}")
    raw = np.ascontiguousarray(values).view(dtype).reshape(-1)
    valid = raw <= np.iinfo(np.int64).max if dtype.kind == "u" else np.ones(raw.shape, dtype=bool)
    value = np.where(valid, raw, 0).astype(np.int64)
    return value, valid, np.zeros(raw.shape, dtype=bool)
