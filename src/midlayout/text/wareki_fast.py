"""和暦 era code + YYMMDD parsed on the value bytes by one numba kernel, the struct built from its buffers.

`parse_wareki` (text/wareki.py) runs a regex and about twenty struct stages per value. For the fixed formats
(`era_yymmdd`, `era2_yymmdd`) the kernel here settles every ASCII value (null, blank, spaces around it, all
zeros, not a date, unknown era, every range check) on the UTF-8 bytes of the column, reading polars' own
string views (values up to 12 bytes sit inside the view), and writes the struct's columns straight into
Arrow buffers. A value it does not settle (a byte above 0x7F: full-width digits, kanji; longer than 12
bytes) goes, alone with the others like it, through `parse_wareki` itself, and its row is patched in: the
result equals `parse_wareki_zeros`, value for value.

The struct is `parse_wareki`'s {date, unknown, error, partial} plus `zeros` (the text, stripped of spaces,
is all 0 or ０: what the `blank:` policies call an all-zero date), so the ops need no second pass over the
text. The kernel is lazily compiled (`midlayout.jit`): numba is imported only where a 和暦 field is parsed.

One kernel, one place: the fixed-width and the CSV reader both reach 和暦 through the mapping's shared
parse (`mapping.ops.shared_wareki`). A new textual format (the CSV `dotted` form, `S39.07.25`) is one more
match branch in `_kernel_source` (before the shared range checks) plus its entry in `FAST_FORMATS`.
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

__all__ = ["FAST_FORMATS", "all_zeros", "parse_wareki_fast", "parse_wareki_zeros"]

FAST_FORMATS = {"era_yymmdd": 1, "era2_yymmdd": 2}  # format → characters of its era code
# error index → message (parse_wareki's own texts); -1: none
_ERRORS = ["not a date", "invalid era code", "year 0 is not valid", "invalid month", "invalid day", *_OUTSIDE]
_ZEROS = r"^[0０]+$"
_SPACES = " \u3000"


def all_zeros(expr: pl.Expr) -> pl.Expr:
    """The text, stripped of ASCII and full-width spaces, is all 0 or ０ (never null)."""
    return expr.cast(pl.String).str.strip_chars(_SPACES).str.contains(_ZEROS).fill_null(False)


def parse_wareki_zeros(expr: pl.Expr, fmt: str, era_codes: dict[str, str] | None = None) -> pl.Expr:
    """The reference of the kernel's struct: `parse_wareki` plus `zeros` (`all_zeros` of the text)."""
    return parse_wareki(expr, fmt, era_codes).struct.with_fields(zeros=all_zeros(expr))


def parse_wareki_fast(expr: pl.Expr, fmt: str, era_codes: dict[str, str] | None = None) -> pl.Expr:
    """`parse_wareki_zeros(expr, fmt, era_codes)`, the fixed formats parsed on bytes (and the plain ASCII
    values of the dotted form, text/wareki_dotted.py)."""
    if fmt == DOTTED:  # the letter form of CSV extracts: text/wareki_dotted.py (numpy)
        return parse_dotted_fast(expr, era_codes).struct.with_fields(zeros=all_zeros(expr))
    if fmt not in FAST_FORMATS:
        return parse_wareki_zeros(expr, fmt, era_codes)
    key = tuple(sorted(era_codes.items())) if era_codes is not None else None
    fn = _parser(fmt, key)
    return expr.cast(pl.String).map_batches(fn, return_dtype=_DTYPE)


_DTYPE = pl.Struct(
    {"date": pl.Date, "unknown": pl.Boolean, "error": pl.String, "partial": pl.String, "zeros": pl.Boolean}
)


@cache
def _parser(fmt: str, key: tuple[tuple[str, str], ...] | None):  # type: ignore[no-untyped-def]
    """One function object per (format, codes): polars sees the same expression and computes it once."""
    era_codes = dict(key) if key is not None else None
    return lambda s: parse_series(s, fmt, era_codes)


@cache
def _code_table(fmt: str, key: tuple[tuple[str, str], ...] | None) -> np.ndarray:
    """Era index by the bytes of an ASCII era code (one byte, or two as b0 * 256 + b1); -1: not a code.
    A code of other characters never matches an ASCII value, which is all the kernel settles."""
    width = FAST_FORMATS[fmt]
    table = np.full(256**width, -1, dtype=np.int32)
    for code, index in _codes_for(fmt, dict(key) if key is not None else None).items():
        raw = code.encode("utf-8")
        if len(code) == width and code.isascii():
            table[raw[0] if width == 1 else raw[0] * 256 + raw[1]] = index
    return table


def _kernel_source(
    views: Any,
    valid: Any,
    width: Any,
    table: Any,
    start_year: Any,
    end_year: Any,
    start_day: Any,
    end_day: Any,
    date: Any,
    has_date: Any,
    unknown: Any,
    error: Any,
    partial: Any,
    partial_views: Any,
    zeros: Any,
    slow: Any,
) -> int:  # pragma: no cover - compiled by numba
    """Per value (an Arrow string view, 16 bytes: int32 length, then the bytes when at most 12): the parts
    of the struct, as `parse_wareki` gives them for an ASCII value. date: days since 1970-01-01 where
    `has_date`; error: an index into _ERRORS, -1 none; partial: YYYYMMDD, 0 none, and as an inline string
    view in `partial_views`. `slow[i]` = 1 leaves the row to the expressions (a byte above 0x7F, or longer
    than 12 bytes). Returns the number of such rows."""

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

    nslow = 0
    for i in range(len(valid)):
        if not valid[i]:
            continue  # null: blank (nothing set)
        length = views[i, 0] | views[i, 1] << 8 | views[i, 2] << 16 | views[i, 3] << 24
        if length > 12:
            slow[i] = 1
            nslow += 1
            continue
        s = 4
        e = 4 + length
        ascii_only = True
        for j in range(s, e):
            if views[i, j] >= 0x80:
                ascii_only = False
                break
        if not ascii_only:
            slow[i] = 1
            nslow += 1
            continue
        while s < e and views[i, s] == 0x20:  # strip: U+3000 is not ASCII, so only " " here
            s += 1
        while e > s and views[i, e - 1] == 0x20:
            e -= 1
        if s == e:
            continue  # blank
        all0 = True
        for j in range(s, e):
            if views[i, j] != 0x30:
                all0 = False
                break
        zeros[i] = all0
        # the pattern: `width` characters other than a newline, then six digits
        if e - s != width + 6:
            error[i] = 0
            continue
        ok = True
        for j in range(s, s + width):
            if views[i, j] == 0x0A:
                ok = False
        for j in range(s + width, e):
            c = views[i, j]
            if c < 0x30 or c > 0x39:
                ok = False
        if not ok:
            error[i] = 0
            continue
        code = views[i, s] if width == 1 else views[i, s] * 256 + views[i, s + 1]
        era = table[code]
        if era < 0:
            error[i] = 1
            continue
        p = s + width
        ey = (views[i, p] - 0x30) * 10 + views[i, p + 1] - 0x30
        m = (views[i, p + 2] - 0x30) * 10 + views[i, p + 3] - 0x30
        d = (views[i, p + 4] - 0x30) * 10 + views[i, p + 5] - 0x30
        if ey == 0:
            error[i] = 2
            continue
        if m > 12:
            error[i] = 3
            continue
        year = start_year[era] + ey - 1
        if d > (31 if m == 0 else days_in_month(year, m)):
            error[i] = 4
            continue
        if year <= start_year[era] or year >= end_year[era]:  # the era's first or last year: to the day
            hi_m = 12 if m == 0 else m
            lo = civil(year, max(m, 1), max(d, 1))
            hi = civil(year, hi_m, days_in_month(year, hi_m) if d == 0 else d)
            if hi < start_day[era] or lo > end_day[era]:
                error[i] = 5 + era
                continue
        partial[i] = year * 10000 + m * 100 + d
        partial_views[i, 0] = (
            8
            | (0x30 + year // 1000 % 10) << 32
            | (0x30 + year // 100 % 10) << 40
            | (0x30 + year // 10 % 10) << 48
            | (0x30 + year % 10) << 56
        )
        partial_views[i, 1] = (
            (0x30 + m // 10) | (0x30 + m % 10) << 8 | (0x30 + d // 10) << 16 | (0x30 + d % 10) << 24
        )
        if m == 0 or d == 0:
            unknown[i] = 1
        else:
            date[i] = civil(year, m, d)
            has_date[i] = 1
    return nslow


def _warm(fn: Any) -> None:
    """The one signature `parse_series` meets: views read-only (Arrow's buffer, as polars hands it over;
    a cast makes another Arrow buffer, read-only too). Each signature warmed costs its compile once, cold."""
    _warm_one(fn, np.frombuffer(bytes(16), dtype=np.uint8).reshape(1, 16))


def _warm_one(fn: Any, views: np.ndarray) -> None:
    n = np.zeros(1, dtype=np.int32)
    flag = np.zeros(1, np.bool_)
    fn(
        views,
        np.ones(1, np.bool_),
        1,
        np.full(256, -1, np.int32),
        *(n, n, n, n, n, flag, flag, np.full(1, -1, np.int8), n),
        np.zeros((1, 2), np.int64),
        flag,
        flag,
    )


_ERA_YEAR = np.array([e.start.year for e in ERAS], dtype=np.int32)
_ERA_LAST_YEAR = np.array([e.end.year if e.end else 2**31 - 1 for e in ERAS], dtype=np.int32)
_ERA_START = np.array([(e.start - dt.date(1970, 1, 1)).days for e in ERAS], dtype=np.int32)
_ERA_END = np.array(
    [(e.end - dt.date(1970, 1, 1)).days if e.end else 2**31 - 1 for e in ERAS], dtype=np.int32
)
_ERROR_TEXT = pa.array(_ERRORS, type=pa.string())
_EPOCH = dt.date(1970, 1, 1)


def _views(s: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(views as n × 16 bytes, valid) of a String series, from polars' own string views (no copy)."""
    arr = s.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string_view():
        arr = arr.cast(pa.string_view())
    n = len(arr)
    buf = arr.buffers()[1]
    views = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 16)[arr.offset : arr.offset + n]
    valid = np.ones(n, dtype=bool) if arr.null_count == 0 else np.asarray(arr.is_valid())
    return views, valid


def _bits(mask: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(mask, bitorder="little"))


def parse_series(s: pl.Series, fmt: str, era_codes: dict[str, str] | None) -> pl.Series:
    """The `parse_wareki_zeros` struct of every value of `s`."""
    from midlayout import jit

    kernel = jit.kernel(_kernel_source, _warm)
    views, valid = _views(s)
    n = len(s)
    date = np.zeros(n, dtype=np.int32)
    has_date = np.zeros(n, dtype=np.bool_)
    unknown = np.zeros(n, dtype=np.bool_)
    error = np.full(n, -1, dtype=np.int8)
    partial = np.zeros(n, dtype=np.int32)
    partial_views = np.zeros((n, 2), dtype=np.int64)  # YYYYMMDD inline in the view: no data buffer
    zeros = np.zeros(n, dtype=np.bool_)
    slow = np.zeros(n, dtype=np.bool_)
    key = tuple(sorted(era_codes.items())) if era_codes is not None else None
    table = _code_table(fmt, key)
    eras = (_ERA_YEAR, _ERA_LAST_YEAR, _ERA_START, _ERA_END)
    out = (date, has_date, unknown, error, partial, partial_views, zeros)
    if kernel(views, valid, FAST_FORMATS[fmt], table, *eras, *out, slow):
        _patch(s, np.flatnonzero(slow), fmt, era_codes, *out)
    has_partial = partial != 0
    has_error = error >= 0
    fields = [
        pa.Array.from_buffers(pa.date32(), n, [_bits(has_date), pa.py_buffer(date)]),
        pa.Array.from_buffers(pa.bool_(), n, [None, _bits(unknown)]),
        _ERROR_TEXT.take(pa.Array.from_buffers(pa.int8(), n, [_bits(has_error), pa.py_buffer(error)]))
        if has_error.any()
        else pa.nulls(n, pa.string_view()),
        pa.Array.from_buffers(
            pa.string_view(), n, [_bits(has_partial), pa.py_buffer(partial_views), pa.py_buffer(b"")]
        ),
        pa.Array.from_buffers(pa.bool_(), n, [None, _bits(zeros)]),
    ]
    struct = pa.StructArray.from_arrays(fields, names=list(_DTYPE.to_schema()))  # type: ignore[attr-defined]
    return pl.Series(s.name, struct, dtype=_DTYPE)


def _patch(
    s: pl.Series,
    rows: np.ndarray,
    fmt: str,
    era_codes: dict[str, str] | None,
    date: np.ndarray,
    has_date: np.ndarray,
    unknown: np.ndarray,
    error: np.ndarray,
    partial: np.ndarray,
    partial_views: np.ndarray,
    zeros: np.ndarray,
) -> None:
    """The rows the kernel left, through the expressions (`parse_wareki_zeros`), written into its arrays."""
    slow = s.gather(rows).to_frame("v").select(parse_wareki_zeros(pl.col("v"), fmt, era_codes).alias("p"))
    index = {text: k for k, text in enumerate(_ERRORS)}
    for row, value in zip(rows.tolist(), slow.get_column("p").to_list(), strict=True):
        if value["date"] is not None:
            date[row] = (value["date"] - _EPOCH).days
            has_date[row] = True
        unknown[row] = bool(value["unknown"])
        error[row] = -1 if value["error"] is None else index[value["error"]]
        if value["partial"] is not None:
            text = value["partial"].encode("ascii")  # YYYYMMDD: 8 bytes, inline in the view
            partial[row] = int(text)
            partial_views[row] = np.frombuffer(len(text).to_bytes(4, "little") + text.ljust(12, b"\0"), "<i8")
        zeros[row] = bool(value["zeros"])
