"""Tests for midlayout.text.normalize: polars builders against hand-written values and jaconv."""

from __future__ import annotations

from collections.abc import Callable

import jaconv
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.text.normalize import (
    hankaku_kana_to_zenkaku,
    hankaku_kana_to_zenkaku_reference,
    normalize_spaces,
    normalize_spaces_reference,
    trim,
    trim_reference,
    zenkaku_ascii_to_hankaku,
    zenkaku_ascii_to_hankaku_reference,
    zenkaku_digits_to_hankaku,
    zenkaku_digits_to_hankaku_reference,
)

HALF_KANA = "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
FULL_KANA = "アイウエオガギパヴヲンーァッ・。「」、゛゜"
ASCII = "".join(chr(c) for c in range(0x21, 0x7F))
FULL_ASCII = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
KANJI = "山田太郎髙﨑邉邊崎高渡辺"
SPACES = " \u3000"
VARIANTS = "﨑崎髙高邉邊"
ALPHABET = HALF_KANA + FULL_KANA + ASCII + FULL_ASCII + KANJI + SPACES


def run(builder: Callable[[pl.Expr], pl.Expr], values: list[str | None]) -> list[str | None]:
    """Apply an expression builder to a String column."""
    frame = pl.DataFrame({"s": values}, schema={"s": pl.String})
    return frame.select(builder(pl.col("s"))).to_series().to_list()


# --- examples --------------------------------------------------------------------------------------


def test_trim_sides() -> None:
    value = "\u3000 ﾔﾏﾀﾞ 太郎 \u3000"
    assert run(trim, [value, None, "\u3000"]) == ["ﾔﾏﾀﾞ 太郎", None, ""]
    assert run(lambda e: trim(e, side="left"), [value]) == ["ﾔﾏﾀﾞ 太郎 \u3000"]
    assert run(lambda e: trim(e, side="right"), [value]) == ["\u3000 ﾔﾏﾀﾞ 太郎"]
    assert run(lambda e: trim(e, chars="0"), ["00120"]) == ["12"]
    with pytest.raises(ValueError, match="side"):
        trim(pl.col("s"), side="middle")


def test_hankaku_kana_examples() -> None:
    values = ["ｶﾞｷﾞｸﾞ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "ｳﾞｨｰﾅｽ", "ﾔﾏﾀﾞ ﾀﾛｳ", "｢ｱｲｳ｣､｡･", "ﾊﾞﾊﾟﾊ", None]
    assert run(hankaku_kana_to_zenkaku, values) == [
        "ガギグ",
        "パピプペポ",
        "ヴィーナス",
        "ヤマダ タロウ",
        "「アイウ」、。・",
        "バパハ",
        None,
    ]


def test_hankaku_kana_lone_marks_differ_from_jaconv() -> None:
    # jaconv leaves a ﾞ/ﾟ that cannot combine half-width (h2z("ｱﾞ") == "アﾞ"); we want the
    # full-width spacing marks ゛/゜ so that no half-width kana survives the conversion.
    values = ["ﾞ", "ﾟ", "ｱﾞ", "ﾜﾞ", "ｶﾞﾞ", "ﾊﾟﾟ", "ﾏﾟ", "ﾞｶ"]
    expected = ["゛", "゜", "ア゛", "ワ゛", "ガ゛", "パ゜", "マ゜", "゛カ"]
    assert run(hankaku_kana_to_zenkaku, values) == expected
    assert jaconv.h2z("ｱﾞ", kana=True, ascii=False, digit=False) == "アﾞ"


def test_hankaku_kana_leaves_other_text() -> None:
    # A combining U+3099 is not a half-width mark: composing it would be Unicode normalisation.
    values = ["ABC abc 123", "ＡＢＣ１２３", "山田太郎", "ガパー。", "ｶ\u3099"]
    assert run(hankaku_kana_to_zenkaku, values) == [
        "ABC abc 123",
        "ＡＢＣ１２３",
        "山田太郎",
        "ガパー。",
        "カ\u3099",
    ]


def test_zenkaku_ascii_examples() -> None:
    values = ["ＡＢＣ　ｘｙｚ　１２３", "！＂＃～｛｝＼", "ｶﾅ カナ 漢字", None]
    assert run(zenkaku_ascii_to_hankaku, values) == [
        "ABC\u3000xyz\u3000123",
        '!"#~{}\\',
        "ｶﾅ カナ 漢字",
        None,
    ]
    with_spaces = run(lambda e: zenkaku_ascii_to_hankaku(e, spaces=True), values[:1])
    assert with_spaces == ["ABC xyz 123"]
    # Outside U+FF01-FF5E: ￥ (U+FFE5), ー, 〜 (U+301C) stay as they are.
    assert run(zenkaku_ascii_to_hankaku, ["￥ー〜"]) == ["￥ー〜"]


def test_zenkaku_digits_examples() -> None:
    values = ["〒１２３－４５６７", "０９８７６５４３２１", "ＡＢ１", None]
    assert run(zenkaku_digits_to_hankaku, values) == ["〒123－4567", "0987654321", "ＡＢ1", None]


def test_normalize_spaces_examples() -> None:
    values = ["東京都\u3000\u3000千代田区  1-1", "\u3000 a\u3000b \u3000", "abc", None]
    assert run(normalize_spaces, values) == ["東京都 千代田区 1-1", " a b ", "abc", None]


def test_variant_kanji_pass_unchanged() -> None:
    builders = [
        trim,
        hankaku_kana_to_zenkaku,
        zenkaku_ascii_to_hankaku,
        lambda e: zenkaku_ascii_to_hankaku(e, spaces=True),
        zenkaku_digits_to_hankaku,
        normalize_spaces,
    ]
    for builder in builders:
        assert run(builder, [VARIANTS, "髙橋", "山﨑", "渡邉", "渡邊"]) == [
            VARIANTS,
            "髙橋",
            "山﨑",
            "渡邉",
            "渡邊",
        ]


# --- properties: polars == jaconv / Python references --------------------------------------------

TEXTS = st.lists(st.text(alphabet=ALPHABET, max_size=20) | st.none(), min_size=1, max_size=30)
# Lone ﾞ/ﾟ are where jaconv differs (see the example test above): this alphabet only places them
# right after a kana they combine with.
COMBINING = [c + "ﾞ" for c in "ｳｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ"] + [c + "ﾟ" for c in "ﾊﾋﾌﾍﾎ"]
TOKENS = COMBINING + [c for c in ALPHABET if c not in "ﾞﾟ"]
JACONV_SAFE = st.lists(st.lists(st.sampled_from(TOKENS), max_size=15).map("".join), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(values=JACONV_SAFE)
def test_hankaku_kana_equals_plain_jaconv(values: list[str]) -> None:
    expected = [jaconv.h2z(v, kana=True, ascii=False, digit=False) for v in values]
    assert run(hankaku_kana_to_zenkaku, values) == expected


@settings(max_examples=200, deadline=None)
@given(values=TEXTS)
def test_hankaku_kana_equals_reference(values: list[str | None]) -> None:
    assert run(hankaku_kana_to_zenkaku, values) == [hankaku_kana_to_zenkaku_reference(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=TEXTS, spaces=st.booleans())
def test_zenkaku_ascii_equals_jaconv(values: list[str | None], spaces: bool) -> None:
    got = run(lambda e: zenkaku_ascii_to_hankaku(e, spaces=spaces), values)
    assert got == [zenkaku_ascii_to_hankaku_reference(v, spaces) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=TEXTS)
def test_zenkaku_digits_equals_jaconv(values: list[str | None]) -> None:
    assert run(zenkaku_digits_to_hankaku, values) == [zenkaku_digits_to_hankaku_reference(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=TEXTS)
def test_normalize_spaces_equals_reference(values: list[str | None]) -> None:
    assert run(normalize_spaces, values) == [normalize_spaces_reference(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=TEXTS, side=st.sampled_from(["both", "left", "right"]))
def test_trim_equals_reference(values: list[str | None], side: str) -> None:
    assert run(lambda e: trim(e, side=side), values) == [trim_reference(v, side=side) for v in values]


@settings(max_examples=100, deadline=None)
@given(values=TEXTS)
def test_no_variant_folding_anywhere(values: list[str | None]) -> None:
    # Whatever else happens, the number of each variant kanji is preserved by every function.
    for builder in (hankaku_kana_to_zenkaku, zenkaku_ascii_to_hankaku, zenkaku_digits_to_hankaku):
        for before, after in zip(values, run(builder, values), strict=True):
            if before is not None:
                assert [after.count(c) for c in VARIANTS] == [before.count(c) for c in VARIANTS]
