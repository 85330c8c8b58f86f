"""Variation sequences (IVS) are one character: counts, reject messages and the repertoire report."""

from __future__ import annotations

import polars as pl

from midlayout.pipeline.textreport import repertoire_report
from midlayout.rejects import empty_rejects
from midlayout.text.encodings import byte_length
from midlayout.validate.repertoire import bad_chars
from midlayout.validate.rules import repertoire_message

KATSU = "葛\U000e0100"  # 葛 with the Hanyo-Denshi selector: one character for the user


def test_a_variation_sequence_counts_as_one_character() -> None:
    from midlayout.text.ivs import char_len, count_chars, split_chars

    values = [f"{KATSU}飾区", "葛飾区", "a\ufe00b", "", None]
    counted = pl.DataFrame({"v": values}, schema={"v": pl.String}).select(count_chars(pl.col("v")))
    assert counted.to_series().to_list() == [3, 3, 2, 0, None]
    assert [char_len(v) for v in values if v is not None] == [3, 3, 2, 0]
    assert split_chars(f"{KATSU}飾") == [KATSU, "飾"]


def test_byte_length_counts_bytes_of_the_sequence() -> None:
    frame = pl.DataFrame({"v": [KATSU]})
    assert frame.select(byte_length(pl.col("v"), "utf-8")).item() == 3 + 4


def test_an_ivs_the_target_cannot_hold_is_one_repertoire_finding() -> None:
    # Before: the selector alone was reported, at char 2, as if the user had typed two characters.
    value = f"東{KATSU}飾"
    assert bad_chars(value, ("cp932",)) == [(1, KATSU)]
    assert repertoire_message(value, ("cp932",)) == "outside cp932: U+845B U+E0100 at char 2"
    assert bad_chars(value, ("unicode",)) == []


def test_repertoire_report_has_one_row_for_the_sequence() -> None:
    from midlayout.rejects import DETAIL, DETAIL_TYPE
    from midlayout.validate.rules import repertoire_detail

    value = f"東{KATSU}飾"
    row = (
        empty_rejects()
        .clear(1)
        .with_columns(
            pl.lit("JUMIN.DAT").alias("file"),
            pl.lit(1, dtype=pl.Int64).alias("record"),
            pl.lit("repertoire").alias("rule"),
            pl.lit("shimei").alias("item"),
            pl.lit(repertoire_message(value, ("cp932",))).alias("message"),
            pl.lit(pl.Series([repertoire_detail(value, ("cp932",))], dtype=DETAIL_TYPE)).alias(DETAIL),
        )
    )
    report = repertoire_report(row)
    assert report.select("char", "code", "count", "suggestions", "first_locations").rows() == [
        (KATSU, "U+845B U+E0100", 1, "葛", "JUMIN.DAT:1 shimei char 2")
    ]


def test_a_gaiji_with_a_selector_is_one_occurrence_in_the_gaiji_report() -> None:
    import pyarrow as pa

    from midlayout.readers.gaiji import GaijiSpec, apply_gaiji, hit_frame

    spec = GaijiSpec("utf-8", {"\ue001": "吉"}, frozenset(), "reject")
    arr = pa.array(["a\ue000\U000e0100b", "\ue001\U000e0101田"], type=pa.large_string())
    out, hits = apply_gaiji(arr, spec)
    assert [(h.row, h.byte, h.char, h.mapped) for h in hits] == [
        (0, 1, "\ue000\U000e0100", False),
        (1, 0, "\ue001\U000e0101", True),
    ]
    assert out.to_pylist() == ["a\ue000\U000e0100b", "吉田"]  # the replacement stands for the whole 外字
    frame = pl.DataFrame({"_file": ["f", "f"], "_rec": [1, 2], "_off": [0, 10]})
    report = hit_frame([("NAME", 0, h) for h in hits], frame, "reject")
    assert report.get_column("char").to_list() == ["U+E000 U+E0100", "U+E001 U+E0101"]
