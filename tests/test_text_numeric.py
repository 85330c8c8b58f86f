"""Tests for midlayout.text.numeric: zoned, packed and binary decoding against hand-computed bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.text.numeric import decode_binary, decode_packed, decode_zoned_ascii, decode_zoned_ebcdic


def matrix(*records: bytes) -> np.ndarray:
    """Stack equal-width byte strings into an (n x width) uint8 array."""
    return np.frombuffer(b"".join(records), dtype=np.uint8).reshape(len(records), -1)


def decoded(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[tuple[int, bool, bool]]:
    """(value, valid, null) per record as plain Python values."""
    value, valid, null = result
    assert value.dtype == np.int64 and valid.dtype == bool and null.dtype == bool
    return [(int(v), bool(ok), bool(n)) for v, ok, n in zip(value, valid, null, strict=True)]


def test_zoned_ascii_signed_overpunch() -> None:
    cases = {
        b"00012{": (120, True, False),
        b"00012}": (-120, True, False),
        b"00012A": (121, True, False),
        b"00012I": (129, True, False),
        b"00012J": (-121, True, False),
        b"00012R": (-129, True, False),
        b"000123": (123, True, False),
        b"  012J": (-121, True, False),
        b"     5": (5, True, False),
        b"     {": (0, True, False),
        b"999999": (999999, True, False),
        b"      ": (0, False, True),
    }
    assert decoded(decode_zoned_ascii(matrix(*cases))) == list(cases.values())
    assert decoded(decode_zoned_ascii(matrix(b"0001J"))) == [(-11, True, False)]


def test_zoned_ascii_invalid() -> None:
    bad = [b"0 012A", b"00012 ", b"0001X1", b"000A12", b"-00012", b"00012S", b"\x82\x4f0012", b"00012p"]
    assert decoded(decode_zoned_ascii(matrix(*bad))) == [(0, False, False)] * len(bad)


def test_zoned_ebcdic() -> None:
    cases = {
        b"\xf0\xf1\xf2": (12, True, False),
        b"\xf1\xf2\xc3": (123, True, False),
        b"\xf1\xf2\xd3": (-123, True, False),
        b"\xf0\xf0\xd0": (0, True, False),
        b"\x40\xf1\xc5": (15, True, False),
        b"\x40\x40\x40": (0, False, True),
        b"\xf1\x40\xf1": (0, False, False),
        b"\xf1\xf2\x13": (0, False, False),
        b"\xf1\xc2\xf3": (0, False, False),  # a sign zone only on the last byte
        b"\xf1\xf2\xfa": (0, False, False),
        b"\x30\x31\x32": (0, False, False),  # ASCII digits are not EBCDIC
    }
    assert decoded(decode_zoned_ebcdic(matrix(*cases))) == list(cases.values())


def test_packed() -> None:
    cases = {
        b"\x12\x34\x5c": (12345, True, False),
        b"\x12\x34\x5d": (-12345, True, False),
        b"\x12\x34\x5f": (12345, True, False),
        b"\x00\x00\x0f": (0, True, False),
        b"\x99\x99\x9c": (99999, True, False),
        b"\x00\x00\x1d": (-1, True, False),
        b"\x1a\x34\x5c": (0, False, False),  # digit nibble 0xA
        b"\x12\x34\x5a": (0, False, False),  # sign nibble 0xA
        b"\x12\x34\x56": (0, False, False),  # no sign nibble
        b"\x00\x00\x00": (0, False, False),  # low-values
        b"\x40\x40\x40": (0, False, True),
        b"\x20\x20\x20": (0, False, True),
    }
    assert decoded(decode_packed(matrix(*cases))) == list(cases.values())
    assert decoded(decode_packed(matrix(b"\x00\x0f", b"\x01\x2d"))) == [(0, True, False), (-12, True, False)]
    assert decoded(decode_packed(matrix(b"\x7c", b"\x7d"))) == [(7, True, False), (-7, True, False)]


def test_binary() -> None:
    four = matrix(b"\xff\xff\xff\xfe", b"\x00\x00\x01\x00", b"\x80\x00\x00\x00", b"\x7f\xff\xff\xff")
    assert decoded(decode_binary(four)) == [
        (-2, True, False),
        (256, True, False),
        (-(2**31), True, False),
        (2**31 - 1, True, False),
    ]
    assert decoded(decode_binary(four, signed=False))[0] == (2**32 - 2, True, False)
    assert decoded(decode_binary(matrix(b"\x00\x01", b"\xff\xff"), byteorder="little")) == [
        (256, True, False),
        (-1, True, False),
    ]
    eight = matrix(b"\xff" * 8, b"\x7f" + b"\xff" * 7)
    assert decoded(decode_binary(eight)) == [(-1, True, False), (2**63 - 1, True, False)]
    assert decoded(decode_binary(eight, signed=False)) == [(0, False, False), (2**63 - 1, True, False)]


def test_binary_works_on_a_column_slice() -> None:
    records = matrix(b"AB\x00\x0aZ", b"CD\xff\xf6Z")
    assert decoded(decode_binary(records[:, 2:4])) == [(10, True, False), (-10, True, False)]


def test_argument_checks() -> None:
    with pytest.raises(TypeError):
        decode_zoned_ascii(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError):
        decode_packed(np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="at least 1 byte"):
        decode_zoned_ascii(np.zeros((2, 0), dtype=np.uint8))
    with pytest.raises(ValueError, match="int64"):
        decode_zoned_ascii(matrix(b"0" * 19))
    with pytest.raises(ValueError, match="int64"):
        decode_packed(matrix(b"\x00" * 10))
    with pytest.raises(ValueError, match="2, 4 or 8"):
        decode_binary(matrix(b"\x00\x00\x00"))
    with pytest.raises(ValueError, match="byteorder"):
        decode_binary(matrix(b"\x00\x00"), byteorder="middle")


def test_empty_record_set() -> None:
    assert decoded(decode_zoned_ascii(np.zeros((0, 4), dtype=np.uint8))) == []
    assert decoded(decode_packed(np.zeros((0, 3), dtype=np.uint8))) == []
    assert decoded(decode_binary(np.zeros((0, 4), dtype=np.uint8))) == []


# --- round trips against small per-value encoders written from the format definitions ------------


def zoned_ascii(n: int, width: int) -> bytes:
    """Encode n as ASCII zoned decimal with a trailing overpunch sign."""
    digits = f"{abs(n):0{width}d}"
    last = "{ABCDEFGHI"[int(digits[-1])] if n >= 0 else "}JKLMNOPQR"[int(digits[-1])]
    return (digits[:-1] + last).encode("ascii")


def zoned_ebcdic(n: int, width: int) -> bytes:
    """Encode n as EBCDIC zoned decimal with a C/D sign zone."""
    digits = [int(c) for c in f"{abs(n):0{width}d}"]
    zone = 0xD0 if n < 0 else 0xC0
    return bytes([0xF0 | d for d in digits[:-1]] + [zone | digits[-1]])


def packed(n: int, width: int) -> bytes:
    """Encode n as COMP-3."""
    nibbles = [int(c) for c in f"{abs(n):0{2 * width - 1}d}"] + [0xD if n < 0 else 0xC]
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


@settings(max_examples=100, deadline=None)
@given(width=st.integers(1, 18), data=st.data())
def test_zoned_round_trip(width: int, data: st.DataObject) -> None:
    limit = 10**width - 1
    numbers = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    for encode, decode in ((zoned_ascii, decode_zoned_ascii), (zoned_ebcdic, decode_zoned_ebcdic)):
        result = decoded(decode(matrix(*(encode(n, width) for n in numbers))))
        assert result == [(n, True, False) for n in numbers]


@settings(max_examples=100, deadline=None)
@given(width=st.integers(1, 9), data=st.data())
def test_packed_round_trip(width: int, data: st.DataObject) -> None:
    limit = 10 ** (2 * width - 1) - 1
    numbers = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    assert decoded(decode_packed(matrix(*(packed(n, width) for n in numbers)))) == [
        (n, True, False) for n in numbers
    ]


@settings(max_examples=100, deadline=None)
@given(numbers=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=20))
def test_binary_round_trip(numbers: list[int]) -> None:
    raw = matrix(*(n.to_bytes(4, "big", signed=True) for n in numbers))
    assert decoded(decode_binary(raw)) == [(n, True, False) for n in numbers]
