"""和暦 ops (schemes, boundaries, 不詳, partial dates, 西暦→和暦) and normalisation: vectorised == reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.errors import DefinitionError
from midlayout.layout.mapping import Op, load_mapping
from midlayout.mapping.ops import OpContext, Value, apply_op
from midlayout.text import normalize as n
from midlayout.text.wareki import ERA_SCHEMES, parse_wareki, parse_wareki_reference
from tests.conftest import MAPPINGS


def _op(values: list, name: str, args: dict, dtype: type[pl.DataType] = pl.String) -> tuple[list, list[bool]]:
    value, checks = apply_op(Value(pl.col("v"), dtype), Op(name, args), OpContext("item", "F", 0, {}))
    frame = pl.DataFrame({"v": values}, schema={"v": dtype}).select(
        value.expr.alias("out"), *[c.mask.fill_null(False).alias(f"c{i}") for i, c in enumerate(checks)]
    )
    bad = (
        frame.select(pl.any_horizontal(pl.exclude("out"))).to_series().to_list()
        if checks
        else [False] * len(values)
    )
    return frame.get_column("out").to_list(), bad


@pytest.mark.parametrize(
    ("fmt", "scheme", "values"),
    [
        ("era_yymmdd", "digits", ["3640107", "4010108", "4310430", "5010501"]),
        ("era2_yymmdd", "digits2", ["03640107", "04010108", "04310430", "05010501"]),
        ("era_yymmdd", "letters", ["S640107", "H010108", "H310430", "R010501"]),
        ("dotted", None, ["S64.01.07", "H1.1.8", "H31/04/30", "R01-05-01"]),
        ("kanji", None, ["昭和64年1月7日", "平成元年1月8日", "平成31年4月30日", "令和元年5月1日"]),
    ],
)
def test_era_schemes_and_boundaries(fmt: str, scheme: str | None, values: list[str]) -> None:
    eras = ERA_SCHEMES[scheme] if scheme else None
    dates, bad = _op(values, "wareki", {"format": fmt, "eras": eras})
    assert dates == [dt.date(1989, 1, 7), dt.date(1989, 1, 8), dt.date(2019, 4, 30), dt.date(2019, 5, 1)]
    assert bad == [False] * 4


def test_dates_outside_their_era_are_rejected_not_nulled() -> None:
    dates, bad = _op(
        ["3640108", "4310501", "4000101", "6010101"],
        "wareki",
        {"format": "era_yymmdd", "eras": ERA_SCHEMES["digits"]},
    )
    assert dates == [None] * 4 and bad == [True] * 4


def test_fusho_gives_flag_null_date_and_partial_string() -> None:
    eras = {"format": "era_yymmdd", "eras": ERA_SCHEMES["digits"]}
    values = ["3500000", "3501200", "3501231", ""]
    assert _op(values, "wareki", eras)[0] == [None, None, dt.date(1975, 12, 31), None]
    assert _op(values, "wareki_unknown", eras)[0] == [True, True, False, False]
    assert _op(values, "wareki_partial", eras)[0] == ["19750000", "19751200", "19751231", None]


def test_to_wareki_op_from_dates_and_text() -> None:
    days = [dt.date(1989, 1, 7), dt.date(1989, 1, 8), dt.date(2019, 4, 30), dt.date(2019, 5, 1), None]
    assert _op(days, "to_wareki", {"style": "kanji", "eras": None}, pl.Date)[0] == [
        "昭和64年1月7日",
        "平成元年1月8日",
        "平成31年4月30日",
        "令和元年5月1日",
        None,
    ]
    out, bad = _op(
        ["19890107", "20190501", "18000101", "x", ""],
        "to_wareki",
        {"style": "era2_yymmdd", "eras": ERA_SCHEMES["digits2"]},
    )
    assert out == ["03640107", "05010501", None, None, None] and bad == [False, False, True, True, False]
    assert _op(["20190430"], "to_wareki", {"style": "era_yymmdd", "eras": ERA_SCHEMES["letters"]})[0] == [
        "H310430"
    ]


def _mapping_with(tmp_path: Path, old: str, new: str) -> Path:
    src = MAPPINGS / "vendor_a"
    for p in src.rglob("*"):
        if p.is_file():
            dest = tmp_path / p.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(p.read_bytes())
    path = tmp_path / "juki-2.5.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_mapping_accepts_builtin_era_schemes(tmp_path: Path) -> None:
    path = _mapping_with(tmp_path, "{format: era_yymmdd, eras: a}", "{format: era_yymmdd, eras: letters}")
    m = load_mapping(path)
    ops = [o for r in m.files[1].items if r.item == "ido_ymd" for o in r.ops if o.name == "wareki"]
    assert ops[0].args["eras"] == ERA_SCHEMES["letters"]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("{format: era_yymmdd, eras: nope}", "unknown era scheme 'nope'"),
        ("{format: era_yymmdd}", "need `eras:`"),
    ],
)
def test_mapping_era_errors_name_the_line(tmp_path: Path, new: str, message: str) -> None:
    path = _mapping_with(tmp_path, "{format: era_yymmdd, eras: a}", new)
    with pytest.raises(DefinitionError, match=message) as info:
        load_mapping(path)
    assert info.value.location.line


@settings(max_examples=12)
@given(
    st.lists(
        st.text(alphabet="0123456789SHRMT元年月日不詳平成令和昭.-/ ０１", max_size=10),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["era_yymmdd", "dotted", "kanji"]),
)
def test_parse_wareki_vectorised_equals_reference(texts: list[str], fmt: str) -> None:
    eras = ERA_SCHEMES["digits"] if fmt == "era_yymmdd" else None
    got = (
        pl.DataFrame({"v": texts}).select(parse_wareki(pl.col("v"), fmt, eras).alias("p")).unnest("p").rows()
    )
    assert [g[:3] for g in got] == [parse_wareki_reference(t, fmt, eras) for t in texts]


NORMALISE_ALPHABET = (
    "ｱｲｳｶｷｸｹｺｻﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎﾏﾔﾗﾜｦﾝｯｬｰﾞﾟ｡｢｣､･"  # half-width kana, voiced marks, punctuation
    "ＡＺａｚ０９！～　 abc09-"  # full-width and ASCII
    "髙﨑崎邉邊高①㈱ガパ"  # variants and compatibility characters that must not change
)
OPS = [
    (n.hankaku_kana_to_zenkaku, n.hankaku_kana_to_zenkaku_reference),
    (n.zenkaku_ascii_to_hankaku, n.zenkaku_ascii_to_hankaku_reference),
    (n.zenkaku_digits_to_hankaku, n.zenkaku_digits_to_hankaku_reference),
    (n.normalize_spaces, n.normalize_spaces_reference),
    (n.trim, n.trim_reference),
]


@given(st.lists(st.text(alphabet=NORMALISE_ALPHABET, max_size=12), min_size=1, max_size=8))
def test_normalisation_vectorised_equals_jaconv_reference(values: list[str]) -> None:
    frame = pl.DataFrame({"v": values})
    for vectorised, reference in OPS:
        got = frame.select(vectorised(pl.col("v"))).to_series().to_list()
        assert got == [reference(v) for v in values], vectorised.__name__


def test_normalisation_never_folds_variant_kanji() -> None:
    frame = pl.DataFrame({"v": ["髙﨑 邉邊①㈱ｶﾞ"]})
    for vectorised, _ in OPS:
        out = frame.select(vectorised(pl.col("v"))).item()
        assert all(ch in out for ch in "髙﨑邉邊①㈱")
    assert frame.select(n.hankaku_kana_to_zenkaku(pl.col("v"))).item() == "髙﨑 邉邊①㈱ガ"
