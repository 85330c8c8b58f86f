"""Fixed-width CP932 record packing: byte-length padding, cuts on character boundaries, zoned decimals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter

from midlayout.layout.source import SourceFile

LEAD_BYTES = frozenset(range(0x81, 0xA0)) | frozenset(range(0xE0, 0xFD))
WIDE_SPACE = b"\x81\x40"  # 全角スペース in CP932
_OVERPUNCH = {d: bytes([p]) for d, p in zip(b"0123456789", b"{ABCDEFGHI", strict=True)}


def cut_cp932(data: bytes, limit: int) -> bytes:
    """The longest prefix of `data` of at most `limit` bytes that ends on a CP932 character boundary."""
    i = 0
    while i < len(data):
        step = 2 if data[i] in LEAD_BYTES else 1
        if i + step > limit:
            break
        i += step
    return data[:i]


def pad_wide(data: bytes, length: int) -> bytes:
    """Pad with full-width spaces (0x8140), and one ASCII space when the gap is odd."""
    gap = length - len(data)
    return data + WIDE_SPACE * (gap // 2) + b" " * (gap % 2)


def overpunch(digits: bytes) -> bytes:
    """Zoned digits with a positive sign punched into the last one (0–9 become {, A–I)."""
    return digits[:-1] + _OVERPUNCH[digits[-1]]


def zoned(value: int, length: int, sign: bool = False) -> bytes:
    """Zero-padded ASCII digits; with `sign`, the last digit carries a positive overpunch."""
    digits = b"%0*d" % (length, value)
    if value < 0 or len(digits) != length:
        raise ValueError(f"{value} is not a non-negative number of at most {length} digits")
    return overpunch(digits) if sign else digits


class RecordSpec:
    """The byte layout of one fixed-width file; fields the generator does not fill are left blank."""

    def __init__(self, source: SourceFile, filled: Iterable[str], wide: Iterable[str] = ()) -> None:
        """Plan records of `source`; `filled` names the fields given to `pack`, `wide` the full-width ones."""
        filled = set(filled)
        missing = sorted(filled - {f.id for f in source.fields})
        if missing:
            raise ValueError(f"source layout {source.id} lacks field(s): {', '.join(missing)}")
        self.length = source.record_length
        self.terminator = source.terminator
        self.wide = frozenset(wide)
        self.numeric = frozenset(f.id for f in source.fields if f.type == "zoned")
        self.widths = {f.id: f.length for f in source.fields}
        self.fields: list[tuple[str, int]] = []  # filled fields in record order
        template, pos = [], 0
        for f in sorted(source.fields, key=lambda f: f.start):
            template.append(b" " * (f.start - pos))
            if f.id in filled:
                template.append(b"%%-%ds" % f.length)
                self.fields.append((f.id, f.length))
            else:
                template.append(b" " * f.length)
            pos = f.start + f.length
        template.append(b" " * (self.length - pos))
        self._template = b"".join(template)
        self._wide_at = tuple((i, n) for i, (fid, n) in enumerate(self.fields) if fid in self.wide)
        self._get = itemgetter(*(fid for fid, _ in self.fields))

    def pack(self, values: Mapping[str, bytes], wide_pad: bool = False) -> bytes:
        """One record plus terminator; every filled field must be in `values`."""
        got = self._get(values)
        got = got if isinstance(got, tuple) else (got,)
        record = self._template % got
        if len(record) != self.length:
            got = tuple(self._cut(fid, v, n) for (fid, n), v in zip(self.fields, got, strict=True))
            record = self._template % got
        if wide_pad:
            fitted = list(got)
            for i, n in self._wide_at:
                fitted[i] = pad_wide(fitted[i], n)
            record = self._template % tuple(fitted)
        return record + self.terminator

    def _cut(self, fid: str, value: bytes, n: int) -> bytes:
        """A text value cut on a character boundary to fit `n` bytes; numbers must already fit."""
        if len(value) <= n:
            return value
        if fid in self.numeric:
            raise ValueError(f"{fid}: {value!r} is longer than {n} bytes")
        return cut_cp932(value, n)
