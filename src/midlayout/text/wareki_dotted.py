"""和暦 in the dotted form (`S39.07.25`, `H1.1.8`; separators `.`, `/` or `-`) parsed on the value bytes.

`parse_wareki(expr, "dotted")` (text/wareki.py) runs a full-width fold, a strip, a regex and about
twenty struct stages per value; a CSV extract's birth dates are nearly all plain ASCII such as
`S39.07.25`. A value that is exactly an ASCII letter, 1-2 digits, a separator, 1-2 digits, a separator and
1-2 digits is parsed here from the UTF-8 bytes of the column in a few vectorised numpy passes (numpy, not
numba: a process that only reads CSV does not load numba for it), whether its letter is an era code or not;
a null or empty value gets the struct of a blank value. Every other value (spaces, full-width characters,
other text) goes through `parse_wareki` itself, so the result is the same struct, value for value.

The date arithmetic (era year → 西暦, the largest day of a month, the era's first and last day) is the
expressions' own, written again on integer arrays; tests/test_wareki_dotted.py checks the two against
each other on every value of the 和暦 tests, every day from 明治 on and random inputs.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import cache
from itertools import product

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout.text.utf8 import string_buffers
from midlayout.text.wareki import _OUTSIDE, ERAS, _codes_for, parse_wareki

__all__ = ["parse_dotted_fast", "parse_dotted_series"]

FORMAT = "dotted"
_DTYPE = pl.Struct({"date": pl.Date, "unknown": pl.Boolean, "error": pl.String, "partial": pl.String})
_ERRORS = ["invalid era code", "year 0 is not valid", "invalid month", "invalid day", *_OUTSIDE]
# (digits of the era year, of the month, of the day): the regex takes one or two of each.
_SHAPES = tuple(product((1, 2), repeat=3))
_EPOCH = dt.date(1970, 1, 1)
_NO_DATE = -(2**31)  # no date (days since 1970 are negative before it)
_ERA_YEAR = np.array([e.start.year for e in ERAS], dtype=np.int64)
_ERA_START = np.array([(e.start - _EPOCH).days for e in ERAS], dtype=np.int64)
_ERA_END = np.array([(e.end - _EPOCH).days if e.end else 2**62 for e in ERAS], dtype=np.int64)
_SEPARATORS = np.zeros(256, dtype=bool)
_SEPARATORS[[ord("."), ord("/"), ord("-")]] = True
_LETTERS = np.zeros(256, dtype=bool)
_LETTERS[ord("A") : ord("Z") + 1] = True
_LETTERS[ord("a") : ord("z") + 1] = True


def parse_dotted_fast(expr: pl.Expr, era_codes: dict[str, str] | None = None) -> pl.Expr:
    """`parse_wareki(expr, "dotted", era_codes)`, with the plain ASCII values parsed on their bytes."""
    _codes_for(FORMAT, era_codes)  # the expressions' own check of the codes, raised here alike
    key = tuple(sorted(era_codes.items())) if era_codes is not None else None
    return expr.cast(pl.String).map_batches(_parser(key), return_dtype=_DTYPE)


@cache
def _parser(key: tuple[tuple[str, str], ...] | None):  # type: ignore[no-untyped-def]
    """One function object per era codes: polars sees the same expression and computes it once."""
    era_codes = dict(key) if key is not None else None
    return lambda s: parse_dotted_series(s, era_codes)


def _letter_table(era_codes: dict[str, str] | None) -> np.ndarray:
    """Era index by the byte of a one-letter era code (-1: a letter that is no era code)."""
    table = np.full(256, -1, dtype=np.int64)
    for code, index in _codes_for(FORMAT, era_codes).items():
        if len(code) == 1 and code.isascii() and code.isalpha():
            table[ord(code)] = index
    return table


def _number(value: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The decimal number of digit values `value[:, start:stop]` (one or two columns)."""
    out = value[:, start].astype(np.int64)
    if stop - start == 2:
        out = out * 10 + value[:, start + 1]
    return out


def _month_tables() -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970 of the 1st, days in the month) by (year - `_FIRST_YEAR`, month 1..12): every
    year an era year of 0-99 can name."""
    years = np.arange(_FIRST_YEAR, _LAST_YEAR + 1)
    first = np.zeros((len(years), 13), dtype=np.int64)
    length = np.zeros((len(years), 13), dtype=np.int64)
    for k, year in enumerate(years):
        for month in range(1, 13):
            day = dt.date(int(year), month, 1)
            first[k, month] = (day - _EPOCH).days
            length[k, month] = calendar.monthrange(int(year), month)[1]
    return first.ravel(), length.ravel()


_FIRST_YEAR = int(_ERA_YEAR.min()) - 1  # era year 0 (an error, yet computed alongside)
_LAST_YEAR = int(_ERA_YEAR.max()) + 98  # era year 99
_MONTH_FIRST, _MONTH_DAYS = _month_tables()
_YEAR_TEXT = np.frombuffer(
    "".join(f"{y:04d}" for y in range(_FIRST_YEAR, _LAST_YEAR + 1)).encode(), dtype=np.uint8
).reshape(-1, 4)
_TWO_DIGITS = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), dtype=np.uint8).reshape(-1, 2)


def _shapes(off: np.ndarray, buf: np.ndarray, rows: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows among `rows` that are exactly letter, 1-2 digits, separator, 1-2 digits, separator,
    1-2 digits, and their (letter byte, era year, month, day)."""
    found: list[tuple[np.ndarray, ...]] = []
    for width in range(6, 10):
        at = rows[size == width]
        if not len(at):
            continue
        # each value's bytes as one row of a (values, width) matrix: a strided view, gathered by row
        window = np.lib.stride_tricks.sliding_window_view(buf, width)[off[at]]
        value = window - np.uint8(ord("0"))
        digit = value <= 9  # uint8: bytes below "0" wrap round
        letter = _LETTERS[window[:, 0]]
        for yl, ml, dl in _SHAPES:
            if 3 + yl + ml + dl != width:
                continue
            s1, s2 = 1 + yl, 2 + yl + ml
            digits = [j for j in range(1, width) if j not in (s1, s2)]
            ok = (
                letter
                & _SEPARATORS[window[:, s1]]
                & _SEPARATORS[window[:, s2]]
                & digit[:, digits].all(axis=1)
            )
            rows_ok, v, lead = (at, value, window[:, 0]) if ok.all() else (at[ok], value[ok], window[ok, 0])
            if len(rows_ok):
                found.append(
                    (rows_ok, lead, _number(v, 1, s1), _number(v, s1 + 1, s2), _number(v, s2 + 1, width))
                )
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty, empty
    if len(found) == 1:
        return found[0]
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _evaluate(
    letter: np.ndarray, ey: np.ndarray, m: np.ndarray, d: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(days since 1970 or `_NO_DATE`, unknown, error index or -1, YYYYMMDD or 0) as `parse_wareki`
    decides them."""
    era = table[letter]
    known = np.maximum(era, 0)
    year = _ERA_YEAR[known] + ey - 1
    month = np.clip(m, 1, 12)
    at = (year - _FIRST_YEAR) * 13 + month  # (year, month) in the flat month tables
    max_day = np.where(m == 0, 31, _MONTH_DAYS.take(at))
    lo = _MONTH_FIRST.take(at) + np.maximum(d, 1) - 1
    dec = at - month + 12  # December of the year, for a month 00
    hi = (
        np.where(m == 0, _MONTH_FIRST.take(dec), lo - np.maximum(d, 1) + 1)
        + np.where(d == 0, np.where(m == 0, 31, max_day), d)
        - 1
    )
    outside = (hi < _ERA_START.take(known)) | (lo > _ERA_END.take(known))
    wrong = (era < 0) | (ey == 0) | (m > 12) | (d > max_day) | outside
    error = np.full(len(era), -1, dtype=np.int64)
    if wrong.any():  # the first failing check names the error, as in the expressions
        error = np.select(
            [era < 0, ey == 0, m > 12, d > max_day, outside], [0, 1, 2, 3, 4 + known], default=-1
        )
    valid = ~wrong
    unknown = valid & ((m == 0) | (d == 0))
    day = np.where(valid & ~unknown, lo, _NO_DATE)
    partial = np.where(valid, year * 10000 + m * 100 + d, 0)
    return day, unknown, error, partial


def _validity(has: np.ndarray) -> pa.Buffer | None:
    return None if has.all() else pa.py_buffer(np.packbits(has, bitorder="little"))


def _struct(
    day: np.ndarray, unknown: np.ndarray, error: np.ndarray, partial: np.ndarray, name: str
) -> pl.Series:
    """The struct from the integer results (`_NO_DATE`, -1, 0: null), built as Arrow arrays over the
    numpy buffers (partial: the eight digits of YYYYMMDD written as bytes)."""
    n = len(day)
    has = day != _NO_DATE
    date = pa.Array.from_buffers(pa.date32(), n, [_validity(has), pa.py_buffer(day.astype(np.int32))])
    full = partial != 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(full * 8, out=offsets[1:])
    value = partial[full]
    digits = np.empty((len(value), 8), dtype=np.uint8)  # YYYY MM DD from their texts (tables)
    digits[:, 0:4] = _YEAR_TEXT[value // 10000 - _FIRST_YEAR]
    digits[:, 4:6] = _TWO_DIGITS[value // 100 % 100]
    digits[:, 6:8] = _TWO_DIGITS[value % 100]
    text = pa.Array.from_buffers(
        pa.large_string(), n, [_validity(full), pa.py_buffer(offsets), pa.py_buffer(digits)]
    )
    wrong = error >= 0
    reason = pa.nulls(n, pa.large_string())
    if wrong.any():
        known = np.array(_ERRORS, dtype=object)
        reason = pa.array(np.where(wrong, known[np.maximum(error, 0)], None), type=pa.large_string())
    flag = pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(unknown, bitorder="little"))])
    arrays = [date, flag, reason, text]
    return pl.Series(name, pa.StructArray.from_arrays(arrays, names=list(_DTYPE.to_schema())))


def parse_dotted_series(s: pl.Series, era_codes: dict[str, str] | None = None) -> pl.Series:
    """The `parse_wareki(…, "dotted", era_codes)` struct of every value of `s` (a String series)."""
    off, buf, valid = string_buffers(s)
    n = len(s)
    size = np.diff(off)
    blank = ~valid | (size == 0)  # null or empty: blank, never an error
    rows = np.flatnonzero(~blank & (size >= 6) & (size <= 9))
    at, letter, ey, m, d = _shapes(off, buf, rows, size[rows])
    day = np.full(n, _NO_DATE, dtype=np.int64)
    unknown = np.zeros(n, dtype=bool)
    error = np.full(n, -1, dtype=np.int64)
    partial = np.zeros(n, dtype=np.int64)
    day[at], unknown[at], error[at], partial[at] = _evaluate(letter, ey, m, d, _letter_table(era_codes))
    fast = blank.copy()
    fast[at] = True
    struct = _struct(day, unknown, error, partial, s.name)
    slow_rows = np.flatnonzero(~fast)
    if not len(slow_rows):
        return struct
    slow = (
        s.gather(slow_rows)
        .to_frame("v")
        .select(parse_wareki(pl.col("v"), FORMAT, era_codes).alias("p"))
        .unnest("p")
    )
    done = np.flatnonzero(fast)
    merged = pl.concat([struct.struct.unnest()[done], slow], how="vertical")
    order = np.argsort(np.concatenate([done, slow_rows]), kind="stable")
    return merged[order].to_struct(s.name)
