"""和暦 in the dotted form on bytes (text/wareki_dotted.py) equals `parse_wareki(…, "dotted")` on every
value of the 和暦 tests, on every date of 明治..令和, on every part combination and on random inputs,
whole struct (date, unknown, error, partial)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.mapping.ops import OpContext, Shared
from midlayout.text import wareki_dotted
from midlayout.text.wareki_dotted import parse_dotted_fast, parse_dotted_series
from midlayout.text.wareki_fast import parse_wareki_fast, parse_wareki_zeros
from tests import test_text_wareki as wareki_tests
from tests import test_wareki_fast as wareki_fast_tests


def _same(values: list[str | None], era_codes: dict[str, str] | None = None) -> None:
    """The dotted form through `parse_wareki_fast` (this module's parse plus `zeros`) equals the reference
    expressions, column by column (tests/test_wareki_fast.py's comparison)."""
    wareki_fast_tests._same(values, "dotted", era_codes)


def test_every_value_of_the_wareki_tests() -> None:
    _same(["H31.04.30", "H31.4.30", "H31/04/30", "H31-04-30", "h1.1.8", "Ｈ３１．０４．３０", "S64.1.7"])
    _same(["H31.05.01", "H31.00.00", "X1.1.1", "H31.4", "H310.4.30", "H31,04,30", "H.4.30"])
    _same(["S39.07.25", "S52.04.00", "T15.12.25", "M45.07.30", "R01.05.01", "H01.01.07", "S64.01.08"])
    _same([None, "", " ", "\u3000", " S39.07.25", "S39.07.25 ", "S39.07.25\u3000", None])
    _same([])
    _same([None, None])
    _same(["H31.04.30", "R1.5.1", "h1.1.8", "S64.1.7"], wareki_tests.LETTER_CODES)  # no lower case
    _same(["A01.02.03", "B64.01.07", "S64.01.07"], {"A": "showa", "B": "showa"})  # custom letters


def test_every_day_and_every_part_combination() -> None:
    """Every day from 明治 to 2030 in every era's numbering (two-digit and loose forms), and every
    YY MM DD (0-99, 0-13, 0-32) of each letter, era code or not."""
    days = [
        dt.date(1868, 1, 1) + dt.timedelta(days=k)
        for k in range((dt.date(2030, 12, 31) - dt.date(1868, 1, 1)).days)
    ]
    values = [
        wareki_tests.render("dotted", "MTSHR"[era], ey, m, d, loose)
        for day in days
        for era, ey, m, d in wareki_tests.date_parts(day)
        if ey <= 99
        for loose in (False, True)
    ]
    ey, m, d = np.meshgrid(np.arange(100), np.arange(14), np.arange(33), indexing="ij")
    parts = list(zip(ey.ravel(), m.ravel(), d.ravel(), strict=True))
    for code in ["M", "T", "S", "H", "R", "h", "X"]:
        values += [f"{code}{a:02d}.{b:02d}.{c:02d}" for a, b, c in parts]
    for code in ["r", "x"]:
        values += [f"{code}{a}-{b}/{c}" for a, b, c in parts]
    _same(values)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_inputs(data: st.DataObject) -> None:
    values = data.draw(st.lists(wareki_tests.wareki_inputs("dotted"), min_size=1, max_size=60))
    near = data.draw(
        st.lists(st.text(alphabet="0123456789MSHRXmh./-,: ０Ｈ", min_size=0, max_size=11), max_size=30)
    )
    _same(values + near)


def test_plain_values_never_reach_the_expressions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the module: plain ASCII values, blanks and letters that are no era code are parsed
    on bytes; only the rest (here a full-width value) goes through the expressions."""
    seen: list[list[str | None]] = []
    real = wareki_dotted.parse_wareki

    def spy(expr: pl.Expr, fmt: str, era_codes: dict[str, str] | None = None) -> pl.Expr:
        return real(
            expr.map_batches(lambda s: seen.append(s.to_list()) or s, return_dtype=pl.String), fmt, era_codes
        )

    monkeypatch.setattr(wareki_dotted, "parse_wareki", spy)
    plain = pl.Series("v", ["S39.07.25", "H1.1.8", "X1.1.1", "H31.05.01", "S39.13.01", None, ""])
    parse_dotted_series(plain)
    assert seen == []
    parse_dotted_series(pl.Series("v", ["S39.07.25", "Ｓ３９．０７．２５", "S39.07.25 "]))
    assert seen == [["Ｓ３９．０７．２５", "S39.07.25 "]]


def test_parse_wareki_fast_takes_the_bytes_path_for_dotted() -> None:
    expr = pl.col("v")
    assert not parse_wareki_fast(expr, "dotted").meta.eq(parse_wareki_zeros(expr, "dotted"))
    values = pl.DataFrame({"v": ["S39.07.25", "Ｓ３９．０７．２５", "X1.1.1", "00.00.00", " ０ ", None]})
    got = values.select(parse_wareki_fast(expr, "dotted").alias("p"))
    assert got.equals(values.select(parse_wareki_zeros(expr, "dotted").alias("p")))
    with pytest.raises(ValueError, match="unknown era keys"):
        parse_dotted_fast(expr, {"S": "edo"})


def test_items_reading_one_field_share_one_parse() -> None:
    shared = Shared()
    ctx = OpContext("a", "birth", 0, {}, shared)
    args = {"format": "dotted", "eras": None}
    first = ctx.wareki(pl.col("birth"), args)
    assert ctx.wareki(pl.col("birth"), args).meta.eq(first)
    assert len(shared.columns()) == 1
