"""和暦 era code + YYMMDD on bytes (text/wareki_fast.py) equals `parse_wareki` on every value of the 和暦
tests, on every date of 明治..令和 and on random inputs, whole struct (date, unknown, error, partial)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.mapping.ops import OpContext, Shared
from midlayout.text.wareki import parse_wareki
from midlayout.text.wareki_fast import FAST_FORMATS, parse_wareki_fast
from tests import test_text_wareki as wareki_tests


def _same(values: list[str | None], fmt: str, era_codes: dict[str, str] | None = None) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    want = frame.select(parse_wareki(pl.col("v"), fmt, era_codes).alias("p")).unnest("p")
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
    assert parse_wareki_fast(expr, "kanji").meta.eq(parse_wareki(expr, "kanji"))


def test_items_reading_one_field_share_one_parse() -> None:
    shared = Shared()
    ctx = OpContext("a", "BIRTH", 0, {}, shared)
    args = {"format": "era_yymmdd", "eras": None}
    first = ctx.wareki(pl.col("BIRTH"), args)
    assert ctx.wareki(pl.col("BIRTH"), args).meta.eq(first)
    assert not ctx.wareki(pl.col("OTHER"), args).meta.eq(first)
    assert len(shared.columns()) == 2
