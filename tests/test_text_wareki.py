"""Tests for midlayout.text.wareki: vectorised 和暦 parsing/formatting against hand-computed values."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.text.wareki import ERAS, FORMATS, parse_wareki, parse_wareki_reference, to_wareki

D = dt.date
HEISEI = "date outside era 平成 (1989-01-08..2019-04-30)"
SHOWA = "date outside era 昭和 (1926-12-25..1989-01-07)"
REIWA = "date outside era 令和 (2019-05-01..)"
MEIJI = "date outside era 明治 (1868-01-25..1912-07-29)"
LETTER_CODES = {"M": "meiji", "T": "taisho", "S": "showa", "H": "heisei", "R": "reiwa"}


def parse(values: list[str | None], fmt: str, era_codes: dict[str, str] | None = None) -> list[tuple]:
    """Run the vectorised parser over a column and return (date, unknown, error) tuples."""
    frame = pl.DataFrame({"s": values}, schema={"s": pl.String})
    out = frame.select(parse_wareki(pl.col("s"), fmt, era_codes).alias("r")).unnest("r")
    return [(r["date"], r["unknown"], r["error"]) for r in out.iter_rows(named=True)]


def fmt_dates(values: list[dt.date | None], style: str) -> list[str | None]:
    """Run the vectorised formatter over a Date column."""
    frame = pl.DataFrame({"d": values}, schema={"d": pl.Date})
    return frame.select(to_wareki(pl.col("d"), style)).to_series().to_list()


def test_eras_table() -> None:
    assert [(e.key, e.kanji, e.letter) for e in ERAS] == [
        ("meiji", "明治", "M"),
        ("taisho", "大正", "T"),
        ("showa", "昭和", "S"),
        ("heisei", "平成", "H"),
        ("reiwa", "令和", "R"),
    ]
    assert [e.start for e in ERAS] == [
        D(1868, 1, 25),
        D(1912, 7, 30),
        D(1926, 12, 25),
        D(1989, 1, 8),
        D(2019, 5, 1),
    ]
    assert [e.end for e in ERAS] == [D(1912, 7, 29), D(1926, 12, 24), D(1989, 1, 7), D(2019, 4, 30), None]


KANJI_CASES = [
    ("平成31年4月30日", (D(2019, 4, 30), False, None)),
    ("令和元年5月1日", (D(2019, 5, 1), False, None)),
    ("昭和64年1月7日", (D(1989, 1, 7), False, None)),
    ("平成元年1月8日", (D(1989, 1, 8), False, None)),
    ("大正元年7月30日", (D(1912, 7, 30), False, None)),
    ("明治45年7月29日", (D(1912, 7, 29), False, None)),
    ("平成31年5月1日", (None, False, HEISEI)),
    ("平成元年1月7日", (None, False, HEISEI)),
    ("令和元年4月30日", (None, False, REIWA)),
    ("昭和64年1月8日", (None, False, SHOWA)),
    ("明治元年1月24日", (None, False, MEIJI)),
    ("平成32年1月1日", (None, False, HEISEI)),
    ("昭和20年不詳", (None, True, None)),
    ("昭和20年3月不詳", (None, True, None)),
    ("昭和20年00月00日", (None, True, None)),
    ("昭和20年3月", (None, True, None)),
    ("平成元年1月00日", (None, True, None)),  # January 1989 overlaps 平成 (from the 8th)
    ("平成32年不詳", (None, False, HEISEI)),  # unknown parts cannot hide a year past the era
    ("令和0年1月1日", (None, False, "year 0 is not valid")),
    ("平成2年13月1日", (None, False, "invalid month")),
    ("平成2年1月32日", (None, False, "invalid day")),
    ("平成2年2月30日", (None, False, "invalid day")),
    ("平成3年2月29日", (None, False, "invalid day")),
    ("平成4年2月29日", (D(1992, 2, 29), False, None)),
    ("平成12年2月29日", (D(2000, 2, 29), False, None)),
    ("明治33年2月29日", (None, False, "invalid day")),  # 1900 is not a leap year
    ("平成２年２月３日", (D(1990, 2, 3), False, None)),
    ("\u3000 平成2年2月3日 \u3000", (D(1990, 2, 3), False, None)),
    ("天保3年1月1日", (None, False, "invalid era code")),
    ("2019年4月30日", (None, False, "not a date")),
    ("平成31年4月30", (None, False, "not a date")),
    ("元年5月1日", (None, False, "not a date")),
    ("", (None, False, None)),
    ("\u3000 ", (None, False, None)),
    (None, (None, False, None)),
]


@pytest.mark.parametrize(("value", "expected"), KANJI_CASES)
def test_parse_kanji(value: str | None, expected: tuple) -> None:
    assert parse([value], "kanji") == [expected]
    assert parse_wareki_reference(value, "kanji") == expected


ERA_YYMMDD_CASES = [
    ("4310430", (D(2019, 4, 30), False, None)),
    ("5010501", (D(2019, 5, 1), False, None)),
    ("3640107", (D(1989, 1, 7), False, None)),
    ("1010125", (D(1868, 1, 25), False, None)),
    ("2150101", (D(1926, 1, 1), False, None)),
    ("4310501", (None, False, HEISEI)),
    ("3640108", (None, False, SHOWA)),
    ("4310000", (None, True, None)),
    ("4310400", (None, True, None)),
    ("4000101", (None, False, "year 0 is not valid")),
    ("9310430", (None, False, "invalid era code")),
    ("4311301", (None, False, "invalid month")),
    ("4020230", (None, False, "invalid day")),
    ("４３１０４３０", (D(2019, 4, 30), False, None)),
    (" 4310430\u3000", (D(2019, 4, 30), False, None)),
    ("431043", (None, False, "not a date")),
    ("43104300", (None, False, "not a date")),
    ("4 10430", (None, False, "not a date")),
]


@pytest.mark.parametrize(("value", "expected"), ERA_YYMMDD_CASES)
def test_parse_era_yymmdd(value: str, expected: tuple) -> None:
    assert parse([value], "era_yymmdd") == [expected]


def test_parse_era_yymmdd_letter_codes() -> None:
    values = ["H310430", "R010501", "4310430", "Ｈ310430"]
    assert parse(values, "era_yymmdd", LETTER_CODES) == [
        (D(2019, 4, 30), False, None),
        (D(2019, 5, 1), False, None),
        (None, False, "invalid era code"),
        (D(2019, 4, 30), False, None),
    ]


def test_parse_era2_yymmdd() -> None:
    values = ["04310430", "05010501", "03640107", "01450729", "06010101", "4310430", "04000000"]
    assert parse(values, "era2_yymmdd") == [
        (D(2019, 4, 30), False, None),
        (D(2019, 5, 1), False, None),
        (D(1989, 1, 7), False, None),
        (D(1912, 7, 29), False, None),
        (None, False, "invalid era code"),
        (None, False, "not a date"),
        (None, False, "year 0 is not valid"),
    ]


def test_parse_dotted() -> None:
    values = ["H31.04.30", "H31.4.30", "H31/04/30", "H31-04-30", "h1.1.8", "Ｈ３１．０４．３０", "S64.1.7"]
    assert parse(values, "dotted") == [(D(2019, 4, 30), False, None)] * 4 + [
        (D(1989, 1, 8), False, None),
        (D(2019, 4, 30), False, None),
        (D(1989, 1, 7), False, None),
    ]
    bad = ["H31.05.01", "H31.00.00", "X1.1.1", "H31.4", "H310.4.30", "H31,04,30", "H.4.30"]
    assert parse(bad, "dotted") == [
        (None, False, HEISEI),
        (None, True, None),
        (None, False, "invalid era code"),
        (None, False, "not a date"),
        (None, False, "not a date"),
        (None, False, "not a date"),
        (None, False, "not a date"),
    ]


def test_parse_accepts_non_string_column_and_all_nulls() -> None:
    frame = pl.DataFrame({"n": [4310430, None]})
    out = frame.select(parse_wareki(pl.col("n"), "era_yymmdd").alias("r")).unnest("r")
    assert out.rows() == [(D(2019, 4, 30), False, None, "20190430"), (None, False, None, None)]
    assert out.schema == pl.Schema(
        {"date": pl.Date, "unknown": pl.Boolean, "error": pl.String, "partial": pl.String}
    )
    assert parse([None, None], "kanji") == [(None, False, None)] * 2


def test_parse_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown wareki format"):
        parse_wareki(pl.col("s"), "iso")
    with pytest.raises(ValueError, match="unknown era keys"):
        parse_wareki(pl.col("s"), "era_yymmdd", {"1": "edo"})


def test_to_wareki_styles() -> None:
    dates = [D(2019, 4, 30), D(2019, 5, 1), D(1989, 1, 7), D(1989, 1, 8), D(1926, 12, 25), D(1868, 1, 25)]
    assert fmt_dates(dates, "kanji") == [
        "平成31年4月30日",
        "令和元年5月1日",
        "昭和64年1月7日",
        "平成元年1月8日",
        "昭和元年12月25日",
        "明治元年1月25日",
    ]
    assert fmt_dates(dates, "dotted") == [
        "H31.04.30",
        "R01.05.01",
        "S64.01.07",
        "H01.01.08",
        "S01.12.25",
        "M01.01.25",
    ]
    assert fmt_dates(dates, "era2_yymmdd") == [
        "04310430",
        "05010501",
        "03640107",
        "04010108",
        "03011225",
        "01010125",
    ]
    assert fmt_dates(dates, "era_yymmdd")[:2] == ["4310430", "5010501"]


def test_to_wareki_nulls_and_out_of_range() -> None:
    assert fmt_dates([None, D(1868, 1, 24), D(1700, 1, 1)], "kanji") == [None, None, None]
    assert fmt_dates([D(2118, 1, 1)], "era2_yymmdd") == [None]  # 令和100年 does not fit YY
    assert fmt_dates([D(2118, 1, 1)], "kanji") == ["令和100年1月1日"]
    with pytest.raises(ValueError, match="unknown wareki style"):
        to_wareki(pl.col("d"), "iso")


# --- property tests: vectorised parser == per-value reference -----------------------------------

FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
BOUNDARIES = [
    d for e in ERAS for d in (e.start, e.start - dt.timedelta(days=1), e.start + dt.timedelta(days=1))
]
CODES = {
    "era_yymmdd": ["1", "2", "3", "4", "5", "0", "9", "H"],
    "era2_yymmdd": ["01", "02", "03", "04", "05", "00", "06", "4 "],
    "dotted": ["M", "T", "S", "H", "R", "h", "X"],
    "kanji": ["明治", "大正", "昭和", "平成", "令和", "天保", "平"],
}


def render(fmt: str, code: str, ey: int, m: int, d: int, loose: bool) -> str:
    """Build an input string from parts (possibly invalid ones) the way a source system would."""
    if fmt == "kanji":
        year = "元" if ey == 1 and loose else str(ey)
        month = "不詳" if m == 0 and loose else f"{m}月"
        day = "" if month == "不詳" else ("不詳" if d == 0 and loose else f"{d}日")
        return f"{code}{year}年{month}{day}"
    if fmt == "dotted":
        sep = "/" if loose else "."
        return f"{code}{ey}{sep}{m}{sep}{d}" if loose else f"{code}{ey:02d}.{m:02d}.{d:02d}"
    return f"{code}{ey:02d}{m:02d}{d:02d}"


def date_parts(day: dt.date) -> list[tuple[str, int, int, int]]:
    """(era index, era year, month, day) for every era whose numbering could name this day."""
    return [
        (i, day.year - e.start.year + 1, day.month, day.day)
        for i, e in enumerate(ERAS)
        if day.year >= e.start.year
    ]


@st.composite
def wareki_inputs(draw: st.DrawFn, fmt: str) -> str | None:
    """Valid dates, era-boundary dates, arbitrary parts (00, 13, 32, year 0) and garbage."""
    kind = draw(st.sampled_from(["date", "boundary", "leap", "parts", "garbage", "none"]))
    loose = draw(st.booleans())
    if kind == "none":
        return draw(st.sampled_from([None, "", " \u3000"]))
    if kind == "garbage":
        return draw(st.text(alphabet="0123456789０４HRS.年月日元不詳平成 \u3000x/-", max_size=12))
    if kind == "parts":
        code = draw(st.sampled_from(CODES[fmt]))
        parts = (draw(st.integers(0, 99)), draw(st.integers(0, 13)), draw(st.integers(0, 32)))
    elif kind == "leap":
        year = draw(st.sampled_from([1900, 1904, 1999, 2000, 2100]))
        era, ey, _, _ = draw(st.sampled_from(date_parts(D(year, 2, 1))))
        code, parts = CODES[fmt][era], (ey, 2, draw(st.integers(28, 30)))
    else:
        when = draw(
            st.dates(D(1868, 1, 1), D(2117, 12, 31)) if kind == "date" else st.sampled_from(BOUNDARIES)
        )
        era, *rest = draw(st.sampled_from([p for p in date_parts(when) if p[1] <= 99]))
        code, parts = CODES[fmt][era], tuple(rest)
    text = render(fmt, code, *parts, loose)
    if draw(st.booleans()):
        text = text.translate(FULLWIDTH)
    return draw(st.sampled_from(["", " ", "\u3000"])) + text + draw(st.sampled_from(["", " ", "\u3000"]))


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_vectorised_matches_reference(fmt: str, data: st.DataObject) -> None:
    values = data.draw(st.lists(wareki_inputs(fmt), min_size=1, max_size=40))
    assert parse(values, fmt) == [parse_wareki_reference(v, fmt) for v in values]


@pytest.mark.parametrize("style", FORMATS)
@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.dates(D(1868, 1, 25), D(2117, 12, 31)), min_size=1, max_size=30))
def test_round_trip(style: str, days: list[dt.date]) -> None:
    texts = fmt_dates(days, style)
    assert parse(texts, style) == [(d, False, None) for d in days]
