"""和暦 (Japanese era) dates: vectorised polars parsing and formatting, plus a per-value reference."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from midlayout.text.normalize import zenkaku_ascii_to_hankaku

__all__ = [
    "ERAS",
    "FORMATS",
    "Era",
    "parse_wareki",
    "parse_wareki_reference",
    "to_wareki",
]


@dataclass(frozen=True)
class Era:
    """One Japanese era: key, kanji name, Latin letter, first day and last day (None if current)."""

    key: str
    kanji: str
    letter: str
    start: dt.date
    end: dt.date | None


ERAS: tuple[Era, ...] = (
    Era("meiji", "明治", "M", dt.date(1868, 1, 25), dt.date(1912, 7, 29)),
    Era("taisho", "大正", "T", dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era("showa", "昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("heisei", "平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("reiwa", "令和", "R", dt.date(2019, 5, 1), None),
)
_ERA_INDEX = {era.key: i for i, era in enumerate(ERAS)}

# Regexes shared by the vectorised parser (Rust regex) and the reference (Python re). Only [0-9] is
# used for digits: both engines treat \d as Unicode digits.
_PATTERNS = {
    "era_yymmdd": r"^(?P<era>.)(?P<y>[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$",
    "era2_yymmdd": r"^(?P<era>..)(?P<y>[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$",
    "dotted": r"^(?P<era>[A-Za-z])(?P<y>[0-9]{1,2})[./-](?P<m>[0-9]{1,2})[./-](?P<d>[0-9]{1,2})$",
    "kanji": (
        r"^(?P<era>[^0-9年]+?)(?P<y>元|[0-9]{1,2})年"
        r"(?:不詳(?:月(?:不詳日?)?)?|(?P<m>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})日|不詳日?)?)?$"
    ),
}
FORMATS: tuple[str, ...] = tuple(_PATTERNS)

_DEFAULT_CODES = {
    "era_yymmdd": {str(i + 1): era.key for i, era in enumerate(ERAS)},
    "era2_yymmdd": {f"{i + 1:02d}": era.key for i, era in enumerate(ERAS)},
    "dotted": {c: era.key for era in ERAS for c in (era.letter, era.letter.lower())},
    "kanji": {era.kanji: era.key for era in ERAS},
}
# The era vocabulary every definition uses: era keys, and the era numbering schemes a mapping may name
# without declaring them (`eras: digits`).
ERA_KEYS: tuple[str, ...] = tuple(era.key for era in ERAS)
ERA_SCHEMES: dict[str, dict[str, str]] = {
    "digits": _DEFAULT_CODES["era_yymmdd"],  # 1 明治 … 5 令和
    "digits2": _DEFAULT_CODES["era2_yymmdd"],  # 01 … 05 (the layout's 年号コード)
    "letters": {era.letter: era.key for era in ERAS},
}
_STRIP = " \u3000"
_FULLWIDTH_ASCII = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


def _range_text(era: Era) -> str:
    """Human-readable validity range of an era, e.g. ``1989-01-08..2019-04-30``."""
    return f"{era.start.isoformat()}..{era.end.isoformat() if era.end else ''}"


_OUTSIDE = [f"date outside era {era.kanji} ({_range_text(era)})" for era in ERAS]


def _codes_for(fmt: str, era_codes: dict[str, str] | None) -> dict[str, int]:
    """Validate `fmt` and map each era code to its index in ERAS."""
    if fmt not in _PATTERNS:
        raise ValueError(f"unknown wareki format {fmt!r}; expected one of {FORMATS}")
    codes = _DEFAULT_CODES[fmt] if era_codes is None else era_codes
    unknown = sorted(set(codes.values()) - set(_ERA_INDEX))
    if unknown:
        raise ValueError(f"era_codes maps to unknown era keys {unknown}; known: {list(_ERA_INDEX)}")
    return {code: _ERA_INDEX[key] for code, key in codes.items()}


# --- vectorised parser ---------------------------------------------------------------------------
# Polars expressions have no let-binding: reusing a sub-expression copies it into the tree, and the
# copies multiply. Each stage below is a `struct.with_fields` over the previous stage's fields
# (`pl.field`), so the regex and every intermediate run exactly once per row.

F = pl.field


def _clean(expr: pl.Expr) -> pl.Expr:
    """Full-width ASCII to ASCII, then strip ASCII and full-width spaces."""
    return zenkaku_ascii_to_hankaku(expr.cast(pl.String)).str.strip_chars(_STRIP)


def _part(text: pl.Expr) -> pl.Expr:
    """A captured numeric part as Int32; 元 is 1, a missing (or 不詳) part is 0."""
    return text.replace("元", "1").cast(pl.Int32, strict=False).fill_null(0)


def _is_leap(year: pl.Expr) -> pl.Expr:
    """Gregorian leap-year test."""
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    """Number of days in (year, month) for month 1..12."""
    return (
        pl.when(month == 2)
        .then(pl.when(_is_leap(year)).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )


def _safe_date(ok: pl.Expr, year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """pl.date over components that are all nulled where `ok` is false, so it never raises."""
    return pl.date(*(pl.when(ok).then(part) for part in (year, month, day)))


def _by_era(era: pl.Expr, values: list, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    """Look up a per-era constant by era index."""
    return era.replace_strict(list(range(len(ERAS))), values, default=None, return_dtype=dtype)


def _stage_parts(text: pl.Expr, fmt: str, codes: dict[str, int]) -> pl.Expr:
    """Struct of the cleaned text and its numeric parts: era index, era year, month, day."""
    groups = pl.struct(text.alias("text")).struct.with_fields(
        F("text").str.extract_groups(_PATTERNS[fmt]).alias("g")
    )
    part = F("g").struct.field
    return groups.struct.with_fields(
        blank=F("text").is_null() | (F("text") == ""),
        matched=part("y").is_not_null(),
        era=part("era").replace_strict(list(codes), list(codes.values()), default=None, return_dtype=pl.Int8),
        ey=_part(part("y")),
        m=_part(part("m")),
        d=_part(part("d")),
    )


def _stage_checks(parts: pl.Expr) -> pl.Expr:
    """Add the Gregorian year, the largest valid day and whether the parts are in range."""
    year = parts.struct.with_fields(
        year=_by_era(F("era"), [e.start.year for e in ERAS], pl.Int32) + F("ey") - 1
    )
    max_day = pl.when(F("m") == 0).then(31).otherwise(_days_in_month(F("year"), F("m")))
    limits = year.struct.with_fields(max_day=max_day)
    ok = F("era").is_not_null() & (F("ey") >= 1) & (F("m") <= 12) & (F("d") <= F("max_day"))
    return limits.struct.with_fields(parts_ok=ok.fill_null(False))


def _stage_in_era(checked: pl.Expr) -> pl.Expr:
    """Add `in_era`: whether the (possibly partial) date can fall inside its era."""
    year, month, day, ok = F("year"), F("m"), F("d"), F("parts_ok")
    hi_month = pl.when(month == 0).then(12).otherwise(month)
    bounds = checked.struct.with_fields(
        lo=_safe_date(ok, year, month.clip(1, None), day.clip(1, None)),
        hi=_safe_date(
            ok, year, hi_month, pl.when(day == 0).then(_days_in_month(year, hi_month)).otherwise(day)
        ),
        start=_by_era(F("era"), [e.start for e in ERAS], pl.Date),
        end=_by_era(F("era"), [e.end for e in ERAS], pl.Date),
    )
    in_era = (F("hi") >= F("start")) & (F("end").is_null() | (F("lo") <= F("end")))
    return bounds.struct.with_fields(in_era=in_era)


def _error() -> pl.Expr:
    """The error reason (String) from staged fields; null when the value is valid or blank."""
    return (
        pl.when(F("blank"))
        .then(pl.lit(None, dtype=pl.String))
        .when(~F("matched"))
        .then(pl.lit("not a date"))
        .when(F("era").is_null())
        .then(pl.lit("invalid era code"))
        .when(F("ey") == 0)
        .then(pl.lit("year 0 is not valid"))
        .when(F("m") > 12)
        .then(pl.lit("invalid month"))
        .when(F("d") > F("max_day"))
        .then(pl.lit("invalid day"))
        .when(~F("in_era"))
        .then(_by_era(F("era"), _OUTSIDE, pl.String))
    )


def parse_wareki(expr: pl.Expr, fmt: str, era_codes: dict[str, str] | None = None) -> pl.Expr:
    """Parse 和暦 strings into a struct {date: Date, unknown: Boolean, error: String}.

    `fmt` is one of "era_yymmdd" (``4310430``), "era2_yymmdd" (``04310430``), "dotted"
    (``H31.04.30``, separators ``. / -``) or "kanji" (``平成31年4月30日``, ``令和元年5月1日``).
    `era_codes` maps era codes (digits, letters or kanji, per format) to era keys such as
    "heisei"; each format has a default. Full-width ASCII is folded and surrounding spaces are
    stripped first. A 00 or 不詳 month/day (or, in kanji, a missing trailing part) gives
    ``unknown=True`` and a null date. ``error`` is null for valid, null and empty input. ``partial`` is
    the 西暦 date as ``YYYYMMDD`` with ``00`` for unknown parts (``19750000``), null when not valid.
    """
    codes = _codes_for(fmt, era_codes)
    staged = _stage_in_era(_stage_checks(_stage_parts(_clean(expr), fmt, codes)))
    result = staged.struct.with_fields(error=_error())
    valid = ~F("blank") & F("error").is_null()
    unknown = valid & ((F("m") == 0) | (F("d") == 0))
    return result.struct.eval(
        date=_safe_date(valid & ~unknown, F("year"), F("m"), F("d")),
        unknown=unknown,
        error=F("error"),
        partial=pl.when(valid).then(
            pl.concat_str([F("year").cast(pl.String).str.zfill(4), _pad2(F("m")), _pad2(F("d"))])
        ),
    ).name.keep()


# --- vectorised formatter ------------------------------------------------------------------------


def _pad2(expr: pl.Expr) -> pl.Expr:
    """Integer to a zero-padded 2-digit string."""
    return expr.cast(pl.String).str.zfill(2)


def _era_of(expr: pl.Expr) -> pl.Expr:
    """Struct {d, era, ey}: the date, its era index (null before 明治) and its era year."""
    era = pl.lit(None, dtype=pl.Int8)
    for i, e in enumerate(ERAS):
        era = pl.when(F("d") >= pl.lit(e.start)).then(pl.lit(i, dtype=pl.Int8)).otherwise(era)
    staged = pl.struct(expr.alias("d")).struct.with_fields(era=era)
    start_year = _by_era(F("era"), [e.start.year for e in ERAS], pl.Int32)
    return staged.struct.with_fields(ey=F("d").dt.year().cast(pl.Int32) - start_year + 1)


def _era_code(style: str, index: int) -> str:
    """Era code used by a fixed-format style."""
    if style == "dotted":
        return ERAS[index].letter
    return f"{index + 1:02d}" if style == "era2_yymmdd" else str(index + 1)


def _format(style: str, codes: list[str]) -> pl.Expr:
    """String expression over staged fields {d, era, ey} for one style, with era `codes` by era index."""
    month, day, ey = F("d").dt.month(), F("d").dt.day(), F("ey")
    if style == "kanji":
        year = pl.when(ey == 1).then(pl.lit("元")).otherwise(ey.cast(pl.String))
        kanji = _by_era(F("era"), [e.kanji for e in ERAS], pl.String)
        parts = [kanji, year, pl.lit("年"), month.cast(pl.String), pl.lit("月"), day.cast(pl.String)]
        return pl.concat_str([*parts, pl.lit("日")])
    sep = [pl.lit(".")] if style == "dotted" else []
    code = _by_era(F("era"), codes, pl.String)
    return pl.when(ey <= 99).then(pl.concat_str([code, _pad2(ey), *sep, _pad2(month), *sep, _pad2(day)]))


def to_wareki(expr: pl.Expr, style: str = "kanji", era_codes: dict[str, str] | None = None) -> pl.Expr:
    """Format pl.Date values as 和暦 strings.

    Styles: "kanji" (``平成31年4月30日``, ``令和元年5月1日``), "dotted" (``H31.04.30``),
    "era2_yymmdd" (``04310430``) and "era_yymmdd" (``4310430``), with codes 1..5 for 明治..令和.
    `era_codes` (code → era key, as for `parse_wareki`) replaces the default codes of the fixed
    styles; each era must have exactly one code. Null, dates before 明治 and (except in kanji) era
    years over 99 give null.
    """
    if style not in FORMATS:
        raise ValueError(f"unknown wareki style {style!r}; expected one of {FORMATS}")
    codes = [_era_code(style, i) for i in range(len(ERAS))]
    if era_codes is not None:
        by_key = {key: code for code, key in era_codes.items()}
        codes = [by_key.get(e.key, "") for e in ERAS]
    return _era_of(expr).struct.eval(_format(style, codes).alias("wareki")).struct.field("wareki").name.keep()


# --- per-value reference (tests only) ------------------------------------------------------------


def _ref_days_in_month(year: int, month: int) -> int:
    """Days in a month, via datetime (reference only)."""
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _ref_checks(era: Era, ey: int, m: int, d: int) -> str | None:
    """Error for validated numeric parts, or None (reference only)."""
    if ey == 0:
        return "year 0 is not valid"
    if m > 12:
        return "invalid month"
    year = era.start.year + ey - 1
    if d > (31 if m == 0 else _ref_days_in_month(year, m)):
        return "invalid day"
    lo = dt.date(year, m or 1, d or 1)
    hi = dt.date(year, m or 12, d or _ref_days_in_month(year, m or 12))
    if hi < era.start or (era.end is not None and lo > era.end):
        return f"date outside era {era.kanji} ({_range_text(era)})"
    return None


def parse_wareki_reference(
    value: str | None, fmt: str, era_codes: dict[str, str] | None = None
) -> tuple[dt.date | None, bool, str | None]:
    """Per-value pure-Python twin of `parse_wareki`: (date, unknown, error). For tests only."""
    codes = _codes_for(fmt, era_codes)
    text = None if value is None else value.translate(_FULLWIDTH_ASCII).strip(_STRIP)
    if not text:
        return None, False, None
    match = re.fullmatch(_PATTERNS[fmt].strip("^$"), text)
    if match is None:
        return None, False, "not a date"
    if match["era"] not in codes:
        return None, False, "invalid era code"
    era = ERAS[codes[match["era"]]]
    ey = 1 if match["y"] == "元" else int(match["y"])
    m, d = (int(match[g]) if match[g] else 0 for g in ("m", "d"))
    error = _ref_checks(era, ey, m, d)
    if error is not None:
        return None, False, error
    if m == 0 or d == 0:
        return None, True, None
    return dt.date(era.start.year + ey - 1, m, d), False, None
