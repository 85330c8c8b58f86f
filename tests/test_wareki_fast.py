"""和暦 era code + YYMMDD on bytes (text/wareki_fast.py) equals `parse_wareki` (plus `zeros`, the all-zero
test of the `blank:` policies) on every value of the 和暦 tests, on every date of 明治..令和, on every era
code × YYMMDD and on random inputs, whole struct (date, unknown, error, partial, zeros)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.mapping.ops import OpContext, Shared
from midlayout.text.wareki_fast import FAST_FORMATS, parse_wareki_fast, parse_wareki_zeros
from tests import test_text_wareki as wareki_tests


def _same(values: list[str | None], fmt: str, era_codes: dict[str, str] | None = None) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    want = frame.select(parse_wareki_zeros(pl.col("v"), fmt, era_codes).alias("p")).unnest("p")
    got = frame.select(parse_wareki_fast(pl.col("v"), fmt, era_codes).alias("p")).unnest("p")
    assert got.schema == want.schema
    for col in want.columns:
        same = got.get_column(col).eq_missing(want.get_column(col))
        if not same.all():
            row = int(same.arg_min())  # type: ignore[arg-type]
            raise AssertionError((values[row], got.row(row), want.row(row)))


def test_every_value_of_the_wareki_tests() -> None:
    values = [v for v, _ in wareki_tests.ERA_YYMMDD_CASES]
    _same(values, "era_yymmdd")
    _same(["H310430", "R010501", "4310430", "Ｈ310430"], "era_yymmdd", wareki_tests.LETTER_CODES)
    _same(["04310430", "05010501", "03640107", "01450729", "06010101", "4310430", "04000000"], "era2_yymmdd")
    _same([None, "", " ", "4310430 ", None], "era_yymmdd")
    _same([], "era_yymmdd")
    _same(["3640107", "4010108"], "era_yymmdd", {"3": "showa", "4": "heisei"})  # custom digit codes


@pytest.mark.parametrize("fmt", list(FAST_FORMATS))
def test_every_day_and_every_part_combination(fmt: str) -> None:
    """Every day from 明治 to 2030 in every era's numbering, and every YY MM DD (00-99) of each era code."""
    width = FAST_FORMATS[fmt]
    days = [
        dt.date(1868, 1, 1) + dt.timedelta(days=k)
        for k in range((dt.date(2030, 12, 31) - dt.date(1868, 1, 1)).days)
    ]
    values = [
        wareki_tests.render(fmt, f"{era + 1:0{width}d}", ey, m, d, False)
        for day in days
        for era, ey, m, d in wareki_tests.date_parts(day)
        if ey <= 99
    ]
    ey, m, d = np.meshgrid(np.arange(100), np.arange(14), np.arange(33), indexing="ij")
    for code in range(7):
        values += [
            f"{code:0{width}d}{a:02d}{b:02d}{c:02d}"
            for a, b, c in zip(ey.ravel(), m.ravel(), d.ravel(), strict=True)
        ]
    _same(values, fmt)


@pytest.mark.parametrize("fmt", list(FAST_FORMATS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_random_inputs(fmt: str, data: st.DataObject) -> None:
    values = data.draw(st.lists(wareki_tests.wareki_inputs(fmt), min_size=1, max_size=60))
    digits = data.draw(st.lists(st.text(alphabet="0123456789", min_size=6, max_size=9), max_size=20))
    _same(values + digits, fmt)


def test_other_formats_are_the_expressions() -> None:
    """kanji has no bytes path; dotted has its own (tests/test_wareki_dotted.py)."""
    expr = pl.col("v")
    assert parse_wareki_fast(expr, "kanji").meta.eq(parse_wareki_zeros(expr, "kanji"))


def test_items_reading_one_field_share_one_parse() -> None:
    shared = Shared()
    ctx = OpContext("a", "BIRTH", 0, {}, shared)
    args = {"format": "era_yymmdd", "eras": None}
    first = ctx.wareki(pl.col("BIRTH"), args)
    assert ctx.wareki(pl.col("BIRTH"), args).meta.eq(first)
    assert not ctx.wareki(pl.col("OTHER"), args).meta.eq(first)
    assert len(shared.columns()) == 2


@pytest.mark.parametrize("fmt", list(FAST_FORMATS))
def test_every_ascii_era_character_and_blank_zero_forms(fmt: str) -> None:
    """Every ASCII character in each era-code place (newline included: the pattern's `.` refuses it), the
    letter scheme, spaces around, all-zero values of every length, values past 12 bytes (the kernel leaves
    them to the expressions) and non-ASCII ones, mixed in one column so rows of both kinds are patched."""
    width = FAST_FORMATS[fmt]
    chars = [chr(c) for c in range(128)]
    values: list[str | None] = []
    for rest in ("310430", "010501", "000000", "640107", "991231"):
        for ch in chars:
            values.append((ch * width) + rest)
            values.append(("0" * (width - 1)) + ch + rest)
    values += ["0" * k for k in range(16)] + ["０" * k for k in range(1, 4)] + [" 0 ", "0 0", "\u30000\u3000"]
    values += [" " * k + "4310430" + " " * j for k in range(4) for j in range(8)]
    values += [None, "", "   ", "\u3000", "４310430", "4310430\u3000", "H310430", "4310430\n", "\n"]
    _same(values, fmt)
    _same(values, fmt, wareki_tests.LETTER_CODES if width == 1 else {"0H": "heisei", "R0": "reiwa"})


def test_a_sliced_column_is_read_at_its_offset() -> None:
    series = pl.Series("v", ["x", "4310430", None, "４310430", "5010501", "0000000"])
    for start in range(4):
        part = series.slice(start)
        got = part.to_frame().select(parse_wareki_fast(pl.col("v"), "era_yymmdd").alias("p"))
        want = part.to_frame().select(parse_wareki_zeros(pl.col("v"), "era_yymmdd").alias("p"))
        assert got.equals(want)


@pytest.mark.parametrize("fmt", list(FAST_FORMATS))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_ascii_and_mixed_values(fmt: str, data: st.DataObject) -> None:
    alphabet = st.sampled_from(list("0123456789 0000HRSx\n\t-.") + ["０", "\u3000", "平"])
    values = data.draw(st.lists(st.one_of(st.none(), st.text(alphabet=alphabet, max_size=15)), max_size=60))
    _same(values, fmt)
