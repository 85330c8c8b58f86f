"""Readers cut by byte offset, decode strictly, and report bad input with its location."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from midlayout.errors import InputError
from midlayout.layout.source import SourceField, SourceFile
from midlayout.readers import read_batches
from tests.conftest import fixed_record

FIELDS = (
    SourceField("A", "text", 0, 4),
    SourceField("NAME", "text", 4, 10),
    SourceField("N", "zoned", 14, 6),
)


def _fixed(term: bytes = b"\r\n", encoding: str = "cp932") -> SourceFile:
    return SourceFile("t", "test", "fixed", encoding, "*", FIELDS, record_length=20, terminator=term)


def _read(
    source: SourceFile, path: Path, batch_size: int = 100_000
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    batches = list(read_batches(source, path, batch_size))
    rows = pl.concat([b.rows for b in batches])
    rejects = pl.concat([b.rejects for b in batches])
    return rows, rejects, sum(b.records_read for b in batches)


def _write(tmp_path: Path, records: list[bytes], term: bytes = b"\r\n") -> Path:
    path = tmp_path / "in.dat"
    path.write_bytes(b"".join(r + term for r in records))
    return path


def test_fields_are_cut_by_bytes_before_decoding(tmp_path: Path) -> None:
    recs = [
        fixed_record([("0001", 4), ("髙橋ｶﾅ", 10), ("00012{", 6)], 20),
        fixed_record([("0002", 4), ("ABC", 10), ("00001J", 6)], 20),
    ]
    rows, rejects, n = _read(_fixed(), _write(tmp_path, recs))
    assert n == 2 and rejects.height == 0
    assert rows.get_column("NAME").to_list() == ["髙橋ｶﾅ    ", "ABC       "]
    assert rows.get_column("N").to_list() == [120, -11]
    assert rows.get_column("_rec").to_list() == [1, 2]
    assert rows.get_column("_off").to_list() == [0, 22]
    assert rows.get_column("_raw").to_list() == recs


def test_no_newline_records_and_small_batches(tmp_path: Path) -> None:
    recs = [fixed_record([(f"{i:04d}", 4), ("山﨑", 10), ("000001", 6)], 20) for i in range(7)]
    rows, _, n = _read(_fixed(b""), _write(tmp_path, recs, b""), batch_size=3)
    assert n == 7 and rows.get_column("A").to_list() == [f"{i:04d}" for i in range(7)]
    assert rows.get_column("_off").to_list() == [20 * i for i in range(7)]
    assert set(rows.get_column("NAME").str.strip_chars()) == {"山﨑"}


def test_last_record_without_terminator_is_complete(tmp_path: Path) -> None:
    recs = [fixed_record([("0001", 4)], 20), fixed_record([("0002", 4)], 20)]
    path = tmp_path / "x.dat"
    path.write_bytes(recs[0] + b"\r\n" + recs[1])
    _, _, n = _read(_fixed(), path)
    assert n == 2


def test_a_file_cut_after_planning_is_an_error_with_location(tmp_path: Path) -> None:
    """A piece is read into a buffer of its planned size: fewer bytes on disk is an error, never a short
    batch (and a last record without its terminator still gets one, as the terminator check expects)."""
    from midlayout.readers.fixed import fixed_pieces, read_fixed_piece
    from midlayout.readers.gaiji import spec_for

    recs = [fixed_record([(f"{i:04d}", 4)], 20) for i in range(5)]
    path = tmp_path / "x.dat"
    path.write_bytes(b"\r\n".join(recs))  # the last record lacks its terminator
    source = _fixed()
    pieces = list(fixed_pieces(source, path, 2))
    last = read_fixed_piece(source, path, pieces[-1], spec_for(source, None))
    assert (
        last.rows.get_column("A").to_list() == ["0004"] and last.rows.get_column("_raw").to_list() == recs[4:]
    )
    path.write_bytes(b"\r\n".join(recs[:3]))
    with pytest.raises(InputError, match="file changed while it was read") as info:
        read_fixed_piece(source, path, pieces[1], spec_for(source, None))
    assert info.value.location.byte == 3 * 22 - 2


def test_truncated_last_record_is_an_error_with_location(tmp_path: Path) -> None:
    path = tmp_path / "x.dat"
    path.write_bytes(fixed_record([("0001", 4)], 20) + b"\r\n" + b"0002 short")
    with pytest.raises(InputError, match="truncated last record") as info:
        _read(_fixed(), path)
    assert (info.value.location.record, info.value.location.byte) == (2, 22)


def test_record_length_mismatch_names_record_and_byte(tmp_path: Path) -> None:
    good = fixed_record([("0001", 4)], 20) + b"\r\n"
    bad = fixed_record([("0002", 4)], 20)[:19] + b"\r\n" + b"X"  # one byte short, then shifted
    path = tmp_path / "x.dat"
    path.write_bytes(good + bad + good)
    with pytest.raises(InputError, match="record length mismatch") as info:
        _read(_fixed(), path)
    assert info.value.location.record == 2 and info.value.location.byte == 22 + 20


@pytest.mark.parametrize(
    ("name", "rule", "byte_in_field"),
    [
        (b"ABCDE" + "山田".encode("cp932") + b"\x88", "char_cut", 9),  # lead byte of 亜 cut at the field end
        (b"\x81\x20ABCDEFGH", "invalid_bytes", 0),
        ("山".encode("cp932") + b"\xf0\x40" + b" " * 6, "gaiji_unmapped", 2),
    ],
)
def test_decode_failures_reject_the_record_with_field_and_byte(
    tmp_path: Path, name: bytes, rule: str, byte_in_field: int
) -> None:
    rec = b"0001" + name + b"000001"
    ok = fixed_record([("0002", 4), ("OK", 10), ("000001", 6)], 20)
    rows, rejects, n = _read(_fixed(), _write(tmp_path, [ok, rec]))
    assert n == 2 and rows.height == 1
    r = rejects.row(0, named=True)
    assert (r["record"], r["field"], r["rule"], r["stage"]) == (2, "NAME", rule, "decode")
    # WAVE2: byte_offset is the field's file offset, record_offset the record's; the byte in the field
    # is in the message.
    assert (r["byte_offset"], r["record_offset"]) == (22 + 4, 22)
    assert f"(byte {byte_in_field} of the field)" in r["message"]
    assert r["raw"] == rec
    assert "\ufffd" not in r["message"]


def test_shift_jis_strict_refuses_what_cp932_accepts(tmp_path: Path) -> None:
    rec = fixed_record([("0001", 4), ("髙①", 10), ("000001", 6)], 20)
    path = _write(tmp_path, [rec])
    rows, rejects, _ = _read(_fixed(encoding="shift_jis"), path)
    assert rows.height == 0 and rejects.get_column("rule").to_list() == ["invalid_bytes"]
    rows, rejects, _ = _read(_fixed(encoding="cp932"), path)
    assert rows.get_column("NAME").str.strip_chars().to_list() == ["髙①"]


def test_wave_dash_decodes_as_cp932_does(tmp_path: Path) -> None:
    rec = b"0001" + b"\x81\x60" + b" " * 8 + b"000001"
    rows, _, _ = _read(_fixed(), _write(tmp_path, [rec]))
    assert rows.get_column("NAME").str.strip_chars().to_list() == ["\uff5e"]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        _read(_fixed(), tmp_path / "nope.dat")


# Text a CP932 field can hold: ASCII letters/digits, half-width kana, JIS kanji, IBM extensions, variants.
CP932_TEXT = st.text(
    alphabet=st.sampled_from(list("AZaz09 -ｱｶﾞﾊﾟｰ山田髙﨑邉邊崎高表ソ能ポ①～―\u3000")), min_size=0, max_size=5
)


@given(st.lists(st.tuples(CP932_TEXT, CP932_TEXT), min_size=1, max_size=30), st.integers(1, 7))
def test_fixed_reader_returns_exactly_the_fields_written(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]], batch: int
) -> None:
    fields = (SourceField("X", "text", 0, 10), SourceField("Y", "text", 10, 12))
    source = SourceFile("t", "t", "fixed", "cp932", "*", fields, record_length=22, terminator=b"\r\n")
    path = tmp_path_factory.mktemp("h") / "h.dat"
    path.write_bytes(b"".join(fixed_record([(x, 10), (y, 12)], 22) + b"\r\n" for x, y in rows))
    got, rejects, n = _read(source, path, batch)
    assert n == len(rows) and rejects.height == 0
    assert list(
        zip(
            got.get_column("X").str.strip_chars_end(" "),
            got.get_column("Y").str.strip_chars_end(" "),
            strict=True,
        )
    ) == [(x.rstrip(" "), y.rstrip(" ")) for x, y in rows]


CSV_SOURCE = SourceFile(
    "c",
    "csv",
    "csv",
    "cp932",
    "*",
    (
        SourceField("code", "text", column="コード"),
        SourceField("name", "text", column="氏名"),
        SourceField("memo", "text", column="備考"),
    ),
)


def test_csv_keeps_quoted_commas_newlines_and_trail_byte_5c(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    text = 'コード,氏名,備考\r\n"1","表ソ能","a,b"\r\n"2","ポ","line1\r\nline2"\r\n3,髙橋,\r\n'
    path.write_bytes(text.encode("cp932"))
    rows, rejects, n = _read(CSV_SOURCE, path)
    assert n == 3 and rejects.height == 0
    assert rows.get_column("name").to_list() == ["表ソ能", "ポ", "髙橋"]
    assert rows.get_column("memo").to_list()[:2] == ["a,b", "line1\r\nline2"]
    assert rows.get_column("_rec").to_list() == [1, 2, 3]
    assert rows.get_column("_raw").to_list()[0] == '"1","表ソ能","a,b"'.encode("cp932")


def test_csv_field_count_and_bad_bytes_become_rejects(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        "コード,氏名,備考\r\n1,山田,x\r\n2,田中\r\n".encode("cp932")
        + b"3,\x81\x20,y\r\n"
        + "4,佐藤,z\r\n".encode("cp932")
    )
    rows, rejects, n = _read(CSV_SOURCE, path)
    assert n == 4 and rows.get_column("code").to_list() == ["1", "4"]
    assert dict(zip(rejects.get_column("record"), rejects.get_column("rule"), strict=True)) == {
        2: "field_count",
        3: "invalid_bytes",
    }


def test_csv_header_must_match_the_source_layout(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("コード,名前,備考\r\n1,山田,x\r\n".encode("cp932"))
    with pytest.raises(InputError, match="header does not match"):
        _read(CSV_SOURCE, path)


def test_csv_utf8_bom_is_skipped(tmp_path: Path) -> None:
    source = SourceFile("c", "csv", "csv", "utf-8-sig", "*", CSV_SOURCE.fields)
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffコード,氏名,備考\n1,山田,x\n".encode())
    rows, _, n = _read(source, path)
    assert n == 1 and rows.get_column("_off").to_list() == [3 + len("コード,氏名,備考\n".encode())]


def test_csv_file_changed_after_planning_is_an_error(tmp_path: Path) -> None:
    """Workers read planned byte ranges themselves: a file rewritten in between fails, never misreads."""
    from midlayout.readers import plan_batches, read_piece
    from midlayout.readers.gaiji import spec_for

    path = tmp_path / "c.csv"
    path.write_bytes("コード,氏名,備考\r\n1,山田,x\r\n2,田中,y\r\n".encode("cp932"))
    pieces = list(plan_batches(CSV_SOURCE, path, 1))
    path.write_bytes("コード,氏名,備考\r\n1,山田,x\r\n2,\r\n田中,y\r\n".encode("cp932"))
    with pytest.raises(InputError, match="file changed"):
        read_piece(CSV_SOURCE, path, pieces[1], spec_for(CSV_SOURCE, None))


@pytest.mark.parametrize(
    ("n", "stride", "record_length"), [(1000, 302, 300), (10, 300, 300), (5, 14, 12), (0, 302, 300)]
)
def test_raw_column_points_into_the_piece_and_holds_each_record(
    n: int, stride: int, record_length: int
) -> None:
    import numpy as np

    from midlayout.readers.fixed import _raw_column

    matrix = np.random.default_rng(n).integers(0, 256, size=(n, stride), dtype=np.uint8)
    raw = _raw_column(matrix, record_length)
    assert raw.dtype == pl.Binary
    assert raw.to_list() == [bytes(r[:record_length]) for r in matrix]
