"""和暦 era code + YYMMDD parsed on the value bytes in one vectorised numpy pass.

`parse_wareki` (text/wareki.py) runs a regex and about twenty struct stages per value; most values of an
`era_yymmdd` / `era2_yymmdd` field are just 7 or 8 ASCII digits. Those are parsed here from the UTF-8
bytes of the column by a numba kernel (lazily compiled, `midlayout.jit`); every other value (blank, spaces, full-width digits, letters, another
format) goes through `parse_wareki` itself, so the result is the same struct, value for value.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout.text.wareki import _OUTSIDE, ERAS, _codes_for, parse_wareki
from midlayout.text.wareki_dotted import FORMAT as DOTTED
from midlayout.text.wareki_dotted import parse_dotted_fast

__all__ = ["FAST_FORMATS", "parse_wareki_fast"]

FAST_FORMATS = {"era_yymmdd": 1, "era2_yymmdd": 2}  # format → digits of its era code
_ERRORS = ["invalid era code", "year 0 is not valid", "invalid month", "invalid day", *_OUTSIDE]


def parse_wareki_fast(expr: pl.Expr, fmt: str, era_codes: dict[str, str] | None = None) -> pl.Expr:
    """`parse_wareki(expr, fmt, era_codes)`, with the all-digit values of the fixed formats parsed on bytes
    (and the plain ASCII values of the dotted form, text/wareki_dotted.py)."""
    if fmt == DOTTED:  # the letter form of CSV extracts: text/wareki_dotted.py (numpy)
        return parse_dotted_fast(expr, era_codes)
    if fmt not in FAST_FORMATS:
        return parse_wareki(expr, fmt, era_codes)
    key = tuple(sorted(era_codes.items())) if era_codes is not None else None
    fn = _parser(fmt, key)
    return expr.cast(pl.String).map_batches(fn, return_dtype=_DTYPE)


_DTYPE = pl.Struct({"date": pl.Date, "unknown": pl.Boolean, "error": pl.String, "partial": pl.String})


@cache
def _parser(fmt: str, key: tuple[tuple[str, str], ...] | None):  # type: ignore[no-untyped-def]
    """One function object per (format, codes): polars sees the same expression and computes it once."""
    era_codes = dict(key) if key is not None else None
    return lambda s: parse_series(s, fmt, era_codes)


def _digit_table(fmt: str, era_codes: dict[str, str] | None) -> np.ndarray:
    """Era index by the numeric value of the era code's digits (-1: not an era code)."""
    width = FAST_FORMATS[fmt]
    table = np.full(10**width, -1, dtype=np.int32)
    for code, index in _codes_for(fmt, era_codes).items():
        if len(code) == width and code.isascii() and code.isdigit():
            table[int(code)] = index
    return table


def _utf8(s: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, data, valid) of a String series as Arrow large_string buffers."""
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


def _kernel_source(
    off: Any,
    buf: Any,
    valid: Any,
    width: Any,
    table: Any,
    start_year: Any,
    start_day: Any,
    end_day: Any,
    fast: Any,
    date: Any,
    unknown: Any,
    error: Any,
    partial: Any,
) -> None:  # pragma: no cover - compiled by numba
    """Per value of exactly `width` + 6 ASCII digits: the parts of the `parse_wareki` struct.

    error: -1 none, else an index into _ERRORS; date: days since 1970-01-01 (-2**31: none); partial:
    YYYYMMDD (0: none). `fast[i]` is 0 for values left to the expressions.
    """

    def days_in_month(y: int, m: int) -> int:
        if m == 2:
            return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
        if m == 4 or m == 6 or m == 9 or m == 11:
            return 30
        return 31

    def civil(y: int, m: int, d: int) -> int:  # days since 1970-01-01 (proleptic Gregorian)
        y -= 1 if m <= 2 else 0
        era = (y if y >= 0 else y - 399) // 400
        yoe = y - era * 400
        doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
        return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468

    length = width + 6
    for i in range(len(fast)):
        s = off[i]
        if not valid[i] or off[i + 1] - s != length:
            continue
        ok = True
        for j in range(length):
            c = buf[s + j]
            if c < 0x30 or c > 0x39:
                ok = False
                break
        if not ok:
            continue
        fast[i] = 1
        code = 0
        for j in range(width):
            code = code * 10 + buf[s + j] - 0x30
        p = s + width
        ey = (buf[p] - 0x30) * 10 + buf[p + 1] - 0x30
        m = (buf[p + 2] - 0x30) * 10 + buf[p + 3] - 0x30
        d = (buf[p + 4] - 0x30) * 10 + buf[p + 5] - 0x30
        date[i] = -(2**31)
        era = table[code]
        if era < 0:
            error[i] = 0
            continue
        if ey == 0:
            error[i] = 1
            continue
        if m > 12:
            error[i] = 2
            continue
        year = start_year[era] + ey - 1
        if d > (31 if m == 0 else days_in_month(year, m)):
            error[i] = 3
            continue
        hi_m = 12 if m == 0 else m
        lo = civil(year, max(m, 1), max(d, 1))
        hi = civil(year, hi_m, days_in_month(year, hi_m) if d == 0 else d)
        if hi < start_day[era] or lo > end_day[era]:
            error[i] = 4 + era
            continue
        error[i] = -1
        partial[i] = year * 10000 + m * 100 + d
        if m == 0 or d == 0:
            unknown[i] = 1
        else:
            date[i] = civil(year, m, d)


def _warm(fn: Any) -> None:
    """Both signatures `parse_series` meets: offsets read-only (a view of Arrow's buffer) or writable."""
    offsets = np.array([0, 7], dtype=np.int64)
    for off in (offsets, np.frombuffer(offsets.tobytes(), dtype=np.int64)):
        _warm_one(fn, off)


def _warm_one(fn: Any, offsets: np.ndarray) -> None:
    n = np.zeros(1, dtype=np.int32)
    fn(
        offsets,
        np.frombuffer(b"4310430", dtype=np.uint8),
        np.ones(1, np.bool_),
        1,
        np.zeros(10, np.int32),
        n,
        n,
        n,
        np.zeros(1, np.uint8),
        np.zeros(1, np.int32),
        np.zeros(1, np.bool_),
        np.zeros(1, np.int32),
        np.zeros(1, np.int32),
    )


_ERA_YEAR = np.array([e.start.year for e in ERAS], dtype=np.int32)
_ERA_START = np.array([(e.start - dt.date(1970, 1, 1)).days for e in ERAS], dtype=np.int32)
_ERA_END = np.array(
    [(e.end - dt.date(1970, 1, 1)).days if e.end else 2**31 - 1 for e in ERAS], dtype=np.int32
)


def parse_series(s: pl.Series, fmt: str, era_codes: dict[str, str] | None) -> pl.Series:
    """The `parse_wareki` struct of every value of `s`."""
    from midlayout import jit

    kernel = jit.kernel(_kernel_source, _warm)
    off, buf, valid = _utf8(s)
    n = len(s)
    fast = np.zeros(n, dtype=np.uint8)
    date = np.zeros(n, dtype=np.int32)
    unknown = np.zeros(n, dtype=np.bool_)
    error = np.full(n, -1, dtype=np.int32)
    partial = np.zeros(n, dtype=np.int32)
    table = _digit_table(fmt, era_codes)
    kernel(
        off,
        buf,
        valid,
        FAST_FORMATS[fmt],
        table,
        _ERA_YEAR,
        _ERA_START,
        _ERA_END,
        fast,
        date,
        unknown,
        error,
        partial,
    )
    fast_frame = pl.DataFrame(
        {
            "date": pl.Series(date, dtype=pl.Int32),
            "unknown": unknown,
            "error": pl.Series(error, dtype=pl.Int32),
            "partial": pl.Series(partial, dtype=pl.Int32),
        }
    ).select(
        pl.when(pl.col("date") != -(2**31)).then(pl.col("date").cast(pl.Date)).alias("date"),
        pl.col("unknown"),
        pl.col("error").replace_strict(
            list(range(len(_ERRORS))), _ERRORS, default=None, return_dtype=pl.String
        ),
        pl.when(pl.col("partial") != 0).then(pl.col("partial").cast(pl.String)).alias("partial"),
    )
    slow_rows = np.flatnonzero(fast == 0)
    if not len(slow_rows):
        return fast_frame.to_struct(s.name)
    slow = (
        s.gather(slow_rows)
        .to_frame("v")
        .select(parse_wareki(pl.col("v"), fmt, era_codes).alias("p"))
        .unnest("p")
    )
    rows = np.flatnonzero(fast)
    merged = pl.concat([fast_frame[rows], slow], how="vertical")
    order = np.argsort(np.concatenate([rows, slow_rows]), kind="stable")
    return merged[order].to_struct(s.name)
