"""Each mapping operation, as compiled to polars, and the checks it adds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from midlayout.layout.mapping import CodeMap, Op
from midlayout.mapping.ops import OpContext, Value, apply_op

SEX = CodeMap("sex", "seibetsu", {"M": "1", "F": "2"}, Path("sex.yaml"))
ERAS = {"1": "meiji", "2": "taisho", "3": "showa", "4": "heisei", "5": "reiwa"}


def run(values: list[str | None], *ops: Op) -> tuple[list[object], list[list[bool]]]:
    ctx = OpContext("item", "FIELD", 0, {"sex": SEX})
    value, checks = Value(pl.col("v"), pl.String), []
    for op in ops:
        value, new = apply_op(value, op, ctx)
        checks += new
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String}).select(
        value.expr.alias("out"), *[c.mask.fill_null(False).alias(f"c{i}") for i, c in enumerate(checks)]
    )
    return frame.get_column("out").to_list(), [
        frame.get_column(f"c{i}").to_list() for i in range(len(checks))
    ]


def test_trim_strips_ascii_and_full_width_padding_only_at_the_ends() -> None:
    out, _ = run(["\u3000山田\u3000太郎  ", "  "], Op("trim"))
    assert out == ["山田\u3000太郎", ""]
    out, _ = run(["000123"], Op("trim", {"chars": "0", "side": "left"}))
    assert out == ["123"]


def test_code_translation_rejects_unmapped_codes_instead_of_nulling() -> None:
    out, (unmapped,) = run(["M", "F", "X", "", None], Op("code", "sex"))
    assert out == ["1", "2", None, None, None]
    assert unmapped == [False, False, True, False, False]


def test_wareki_to_seireki_and_unknown_parts() -> None:
    out, (bad,) = run(
        ["4310430", "4310501", "3640107", "3520400", None],
        Op("wareki", {"format": "era_yymmdd", "eras": ERAS, "partial": "unknown"}),
    )
    assert out == [dt.date(2019, 4, 30), None, dt.date(1989, 1, 7), None, None]
    assert bad == [False, True, False, False, False]
    # Without a declared place for it, a partly unknown date is a reject (date_partial), not a silent null.
    _, (bad, partial) = run(["4310430", "3520400"], Op("wareki", {"format": "era_yymmdd", "eras": ERAS}))
    assert bad == [False, False] and partial == [False, True]
    flags, checks = run(
        ["4310430", "3520400", None], Op("wareki_unknown", {"format": "era_yymmdd", "eras": ERAS})
    )
    assert flags == [False, True, False] and checks == []


def test_zenkaku_hankaku_normalisation() -> None:
    assert run(["ﾔﾏﾀﾞ ｶﾞｸ"], Op("zenkaku_kana"))[0] == ["ヤマダ ガク"]
    assert run(["１２３－４５６７Ａ"], Op("hankaku_ascii"))[0] == ["123-4567A"]
    assert run(["〒１２３"], Op("hankaku_digits"))[0] == ["〒123"]
    assert run(["山田\u3000\u3000太郎"], Op("normalize_spaces"))[0] == ["山田 太郎"]


def test_variant_kanji_pass_every_op_unchanged() -> None:
    names = ["髙橋", "山﨑", "渡邉", "渡邊"]
    for op in (
        Op("trim"),
        Op("zenkaku_kana"),
        Op("hankaku_ascii"),
        Op("normalize_spaces"),
        Op("hankaku_digits"),
    ):
        assert run(names, op)[0] == names


def test_null_if_default_replace_split() -> None:
    assert run(["0000000", "1234567"], Op("null_if", ["0000000"]))[0] == [None, "1234567"]
    assert run([None, "", "2"], Op("default", "9"))[0] == ["9", "9", "2"]
    assert run(["100-0001"], Op("replace", {"-": ""}))[0] == ["1000001"]
    assert run(["0001 山田　太郎", "0002"], Op("split", {"sep": " ", "index": 0}))[0] == ["0001", "0002"]
    assert run(["0001 山田　太郎", "0002"], Op("split", {"sep": " ", "index": 1}))[0] == ["山田　太郎", None]


@pytest.mark.parametrize(
    "fmt,value,expected",
    [("dotted", "H31.04.30", dt.date(2019, 4, 30)), ("kanji", "令和元年5月1日", dt.date(2019, 5, 1))],
)
def test_wareki_text_forms(fmt: str, value: str, expected: dt.date) -> None:
    assert run([value], Op("wareki", {"format": fmt, "eras": None}))[0] == [expected]
