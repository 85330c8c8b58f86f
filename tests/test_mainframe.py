"""Japanese EBCDIC (IBM930/939 via glibc iconv) and mainframe numerics, against hand-computed bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from midlayout.errors import DefinitionError
from midlayout.layout.source import SourceField, SourceFile, load_source
from midlayout.readers import read_batches
from midlayout.readers.decode import decode_column
from midlayout.text import ebcdic

pytestmark = pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")

SO, SI = b"\x0e", b"\x0f"
# Hand-computed: EBCDIC digits are 0xF0-0xF9; 0xC1 is 'A'; 0x40 the space; in the IBM host DBCS, 0x4040 is
# the full-width space, 0x42F1 the full-width '１' (row 0x42 = full-width EBCDIC) and 0x4541 '一'.
DIGITS = bytes(range(0xF0, 0xFA))
KANJI = SO + b"\x45\x41" + b"\x42\xf1" + b"\x40\x40" + SI


def test_ebcdic_decodes_known_bytes() -> None:
    ebcdic.register()
    assert DIGITS.decode("ibm930") == "0123456789"
    assert (b"\xc1" + KANJI + b"\x40").decode("ibm930") == "A一１\u3000 "
    # 0x81 is half-width ｱ in IBM930's katakana SBCS and 'a' in IBM939's Latin SBCS.
    assert b"\x81".decode("ibm930") == "ｱ" and b"\x81".decode("ibm939") == "a"
    assert "A一".encode("ibm930") == b"\xc1" + SO + b"\x45\x41" + SI


@pytest.mark.parametrize(
    ("raw", "offset", "reason"),
    [
        (SO + b"\x45\x41", 2, "incomplete"),  # ends in double-byte mode: the SI was cut off
        (SO + b"\x45\x41\x45", 3, "incomplete"),  # half a DBCS character at the field end
        (SO + SO + SI, 1, "unbalanced"),
        (SI + b"\xc1", 0, "unbalanced"),
        (b"\xc1" + SO + b"\x41\x25" + SI, 2, "illegal"),
    ],
)
def test_ebcdic_faults_are_located(raw: bytes, offset: int, reason: str) -> None:
    with pytest.raises(UnicodeDecodeError) as info:
        ebcdic.decode(raw, "ibm930")
    assert info.value.start == offset and reason in info.value.reason


def test_decode_column_frames_ebcdic_with_its_own_lf() -> None:
    values = np.frombuffer(b"\xc1" + KANJI + b"\xf1" * 9, dtype=np.uint8).reshape(2, 9)
    arr, failures = decode_column(values, "ibm930")
    assert failures == [] and arr.to_pylist() == ["A一１\u3000", "111111111"]
    cut = np.frombuffer(b"\xc1" + SO + b"\x45\x41\x45\x41\x42\xf1\x40", dtype=np.uint8).reshape(1, 9)
    arr, failures = decode_column(cut, "ibm930")
    assert arr.to_pylist() == [None] and (failures[0].rule, failures[0].byte) == ("char_cut", 8)


EBCDIC_FIELDS = (
    SourceField("NAME", "text", 0, 9),
    SourceField("AGE", "zoned_ebcdic", 9, 3),
    SourceField("AMOUNT", "packed", 12, 4),
    SourceField("COUNT", "binary", 16, 2),
)


def test_ibm930_record_with_so_si_and_numbers(tmp_path: Path) -> None:
    # NAME: 'A' SO 一 １ 　 SI = 9 bytes, SO/SI counted in the width.
    rec1 = b"\xc1" + KANJI + b"\xf0\xf4\xf2" + b"\x01\x23\x45\x6c" + b"\x00\x64"
    rec2 = b"\x40" * 9 + b"\xf0\xf1\xd3" + b"\x00\x00\x12\x3d" + b"\xff\xfe"
    path = tmp_path / "host.dat"
    path.write_bytes(rec1 + rec2)
    source = SourceFile("h", "host", "fixed", "ibm930", "*", EBCDIC_FIELDS, record_length=18)
    batch = next(iter(read_batches(source, path)))
    assert batch.rejects.height == 0
    assert batch.rows.select("NAME", "AGE", "AMOUNT", "COUNT").rows() == [
        ("A一１\u3000", 42, 123456, 100),
        (" " * 9, -13, -123, -2),
    ]


def test_ibm930_cut_character_is_rejected_with_field_and_byte(tmp_path: Path) -> None:
    bad = b"\xc1" + SO + b"\x45\x41\x45\x41\x42\xf1\x40" + b"\xf0\xf4\xf2" + b"\x01\x23\x45\x6c" + b"\x00\x64"
    path = tmp_path / "host.dat"
    path.write_bytes(bad)
    source = SourceFile("h", "host", "fixed", "ibm930", "*", EBCDIC_FIELDS, record_length=18)
    batch = next(iter(read_batches(source, path)))
    r = batch.rejects.row(0, named=True)
    assert batch.rows.height == 0 and (r["rule"], r["field"], r["byte_offset"]) == ("char_cut", "NAME", 0)
    assert "(byte 8 of the field)" in r["message"]


def test_numeric_fields_in_a_cp932_record(tmp_path: Path) -> None:
    fields = (
        SourceField("Z", "zoned", 0, 6),
        SourceField("P", "packed", 6, 3),
        SourceField("B", "binary", 9, 4, byteorder="little"),
    )
    recs = [
        b"00012{" + b"\x12\x34\x5c" + (-5).to_bytes(4, "little", signed=True),
        b"00001J" + b"\x00\x01\x2d" + (70000).to_bytes(4, "little", signed=True),
        b"   123" + b"\x1a\x34\x5c" + b"\x00" * 4,
    ]
    path = tmp_path / "n.dat"
    path.write_bytes(b"".join(recs))
    source = SourceFile("n", "n", "fixed", "cp932", "*", fields, record_length=13)
    batch = next(iter(read_batches(source, path)))
    assert batch.rows.select("Z", "P", "B").rows() == [(120, 12345, -5), (-11, -12, 70000)]
    r = batch.rejects.row(0, named=True)
    assert (r["record"], r["field"], r["rule"], r["byte_offset"]) == (3, "P", "bad_packed", 26 + 6)


def _source_yaml(tmp_path: Path, file_body: str) -> Path:
    path = tmp_path / "source.yaml"
    path.write_text("vendor: v\nname: v\nfiles:\n" + file_body, encoding="utf-8")
    return path


FIXED_HEAD = """  - id: f
    name: f
    format: fixed
    encoding: {enc}
    match: "*.DAT"
    record_length: 10
    terminator: {term}
    offset_base: 1
"""


def test_source_layout_types_aliases_and_gaiji_ranges(tmp_path: Path) -> None:
    body = (
        FIXED_HEAD.format(enc="sjis", term="crlf")
        + """    gaiji_ranges: ["F040-F9FC", "FA40"]
    fields:
      - {id: A, start: 1, length: 4, type: packed}
      - {id: B, start: 5, length: 2, type: binary, signed: false}
      - {id: C, start: 7, length: 4, type: zoned}
"""
    )
    src = load_source(_source_yaml(tmp_path, body)).file("f")
    assert src.encoding == "cp932"
    assert src.gaiji_ranges == ((b"\xf0\x40", b"\xf9\xfc"), (b"\xfa\x40", b"\xfa\x40"))
    assert [(f.type, f.signed) for f in src.fields] == [("packed", True), ("binary", False), ("zoned", True)]


@pytest.mark.parametrize(
    ("enc", "term", "fields", "message"),
    [
        ("ibm930", "none", "{id: A, start: 1, length: 4, type: zoned}", "use zoned_ebcdic"),
        ("cp932", "none", "{id: A, start: 1, length: 4, type: zoned_ebcdic}", "use zoned"),
        ("ibm939", "crlf", "{id: A, start: 1, length: 4}", "no CR/LF"),
        ("cp932", "none", "{id: A, start: 1, length: 3, type: binary}", "2, 4 or 8"),
        ("cp932", "none", "{id: A, start: 1, length: 4, signed: false}", "only binary"),
        ("cp932", "none", "{id: A, start: 1, length: 10, type: packed}", "19 digits"),
    ],
)
def test_source_layout_rejects_misfits_at_their_line(
    tmp_path: Path, enc: str, term: str, fields: str, message: str
) -> None:
    body = FIXED_HEAD.format(enc=enc, term=term) + f"    fields:\n      - {fields}\n"
    with pytest.raises(DefinitionError, match=message) as info:
        load_source(_source_yaml(tmp_path, body))
    assert info.value.location.line is not None


def test_bad_gaiji_range_is_a_definition_error(tmp_path: Path) -> None:
    body = (
        FIXED_HEAD.format(enc="cp932", term="none")
        + '    gaiji_ranges: ["F9FC-F040"]\n    fields:\n      - {id: A, start: 1, length: 4}\n'
    )
    with pytest.raises(DefinitionError, match="low first"):
        load_source(_source_yaml(tmp_path, body))


def test_sjis_alias_reads_as_cp932(tmp_path: Path) -> None:
    path = tmp_path / "x.dat"
    path.write_bytes("髙①～".encode("cp932") + b"    ")
    source = SourceFile("x", "x", "fixed", "cp932", "*", (SourceField("T", "text", 0, 10),), record_length=10)
    rows = pl.concat([b.rows for b in read_batches(source, path)])
    assert rows.get_column("T").to_list() == ["髙①～    "]
