"""Each mapping operation, as compiled to polars, and the checks it adds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(alphabet="ab-$\\.0 \u3000", max_size=8)), max_size=20),
    old=st.text(alphabet="ab-$\\.0 \u3000", min_size=1, max_size=3),
    new=st.text(alphabet="ab-$\\.0{}1 ", max_size=3),
)
def test_a_one_pattern_replace_equals_replace_many(values: list[str | None], old: str, new: str) -> None:
    """`replace` with one pattern runs as a literal `replace_all`: the same text as `replace_many`."""
    out, _ = run(values, Op("replace", {old: new}))
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert out == frame.select(pl.col("v").str.replace_many([old], [new])).to_series().to_list()


def _jumin() -> tuple[object, object]:
    from midlayout.layout.mapping import load_mapping
    from tests.conftest import MAPPINGS

    mapping = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    return mapping, next(r for r in mapping.files if r.target == "jumin")


def test_each_code_lookup_and_computed_value_is_one_column_per_batch() -> None:
    """A code map's value and its unmapped check read one lookup; a computed text value (concat, replace)
    is computed once, not once for its `when` test and again for its result."""
    from midlayout.mapping.compile import compile_file
    from midlayout.mapping.pushdown import reader_trims

    mapping, rule = _jumin()
    trims = reader_trims(rule, mapping.source.file(rule.source))  # type: ignore[attr-defined]
    compiled = compile_file(mapping, rule, trims)  # type: ignore[arg-type]
    names = [e.meta.output_name() for e in compiled.shared]
    assert sum(name.endswith("_code") for name in names) == 5  # sex, zokugara, shubetsu, jotai, ido
    assert sum(name.endswith("_value") for name in names) == 2  # yubin_no (replace), jusho (concat)
    untrimmed = compile_file(mapping, rule)  # type: ignore[arg-type]  # the trims too, unless the reader did them
    assert sum(e.meta.output_name().endswith("_value") for e in untrimmed.shared) == 8
    for chk in compiled.checks:
        assert "replace_strict" not in str(chk.mask), chk
    for value in compiled.values:
        assert "replace_strict" not in str(value) and "concat_horizontal" not in str(value), value


def test_shared_columns_give_what_the_expressions_give_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mapped rows and rejects of a batch with unmapped codes, blanks, all-zero and invalid 和暦 and
    hyphenated postcodes: the same with the shared columns as with every expression inline."""
    from midlayout.mapping.compile import apply, compile_file
    from midlayout.mapping.ops import Shared
    from midlayout.rejects import FILE, OFF, RAW, REC

    mapping, rule = _jumin()
    n = 6
    text = {f.id: [""] * n for f in mapping.source.file(rule.source).fields if f.type == "text"}  # type: ignore[attr-defined]
    text.update(
        SEX=["M", "F", "X", "", "M", "F"],
        ZOKU=["01", "99", "", "02", "01", "01"],
        SHUBETSU=["J", "G", "Z", "J", "", "J"],
        JOTAI=["0", "1", "", "8", "0", "0"],
        IDO_CODE=["A1", "ZZ", "", "D2", "A1", "A1"],
        BIRTH=["3390725", "0000000", "", "3391399", "４３１０４３０", "4000000"],
        IDO_DATE=["5060515", "", "9999999", "5010500", " 4310430", "x"],
        ZIP=["810-7787", "", "1-2-3", "-", "8107787", "810－7787"],
        ADDR1=["東京都", "", "大阪府", "", "京都府", "北海道"],
        ADDR2=["１丁目", "", "", "２番", "", "　"],
    )
    rows = pl.DataFrame(text).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("KISAI_JUNI"),
        pl.lit("f").alias(FILE),
        pl.int_range(1, n + 1, dtype=pl.Int64).alias(REC),
        pl.int_range(0, n, dtype=pl.Int64).alias(OFF),
        pl.lit(b"raw", dtype=pl.Binary).alias(RAW),
    )
    shared_rows, shared_rejects = apply(compile_file(mapping, rule), rows, {})  # type: ignore[arg-type]
    assert shared_rejects.height >= 6
    monkeypatch.setattr(Shared, "column", lambda self, expr, tag, key=None: expr)
    inline_rows, inline_rejects = apply(compile_file(mapping, rule), rows, {})  # type: ignore[arg-type]
    assert shared_rows.equals(inline_rows)
    assert shared_rejects.equals(inline_rejects)
