"""Source field types and units the definitions need: filler, gaps, shift-less double-byte (PIC N), implied
decimals (COBOL V), and the `chars:` 桁数 of a standard item."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from midlayout.errors import DefinitionError
from midlayout.layout.mapping import load_mapping
from midlayout.layout.source import SourceField, SourceFile, load_source
from midlayout.layout.standard import load_layout
from midlayout.readers import read_batches
from midlayout.rejects import FILE, OFF, RAW, REC
from midlayout.text.ebcdic import available
from midlayout.validate import rules, schema
from tests.conftest import MAPPINGS

HEAD = """vendor: v
name: v
files:
  - id: f
    name: f
    format: fixed
    encoding: {enc}
    match: "*.DAT"
    record_length: 10
    terminator: none
    offset_base: 1
    fields:
"""


def _source(tmp_path: Path, fields: str, enc: str = "cp932") -> Path:
    path = tmp_path / "source.yaml"
    path.write_text(HEAD.format(enc=enc) + fields, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        (
            "      - {id: A, start: 1, length: 4}\n      - {id: B, start: 7, length: 4}\n",
            "bytes 5 to 6 (after field A)",
        ),
        ("      - {id: A, start: 3, length: 8}\n", "bytes 1 to 2 (after the record start)"),
        ("      - {id: A, start: 1, length: 9}\n", "bytes 10 to 10 (after field A)"),
    ],
)
def test_a_gap_in_a_fixed_record_is_a_load_error_at_its_line(tmp_path: Path, fields: str, where: str) -> None:
    with pytest.raises(DefinitionError) as err:
        load_source(_source(tmp_path, fields))
    assert where in str(err.value) and "type: filler" in str(err.value)
    assert err.value.location.line == 12


def test_a_filler_covers_a_gap_and_is_never_read(tmp_path: Path) -> None:
    path = _source(
        tmp_path, "      - {id: A, start: 1, length: 4}\n      - {id: F, start: 5, length: 6, type: filler}\n"
    )
    src = load_source(path).file("f")
    data = tmp_path / "x.DAT"
    data.write_bytes(b"ABCD\xff\xff\xff\xff\xff\xff")  # not CP932 in the filler: nothing rejects it
    batch = next(iter(read_batches(src, data)))
    assert batch.rejects.height == 0 and batch.rows.get_column("A").to_list() == ["ABCD"]
    assert "F" not in batch.rows.columns


def test_a_mapping_cannot_read_a_filler(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(MAPPINGS / "vendor_a", folder)
    path = folder / "juki-2.5.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("katagaki: {from: KATAGAKI", "katagaki: {from: FILLER"),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match="'FILLER' is not a field"):
        load_mapping(path)


def test_dbcs_cp932_requires_every_character_double_byte(tmp_path: Path) -> None:
    src = SourceFile("f", "f", "fixed", "cp932", "*", (SourceField("N", "dbcs", 0, 6),), record_length=6)
    data = tmp_path / "x.DAT"
    data.write_bytes("山田　".encode("cp932") + "山ab田".encode("cp932") + "ｱｲ山田".encode("cp932"))
    batch = next(iter(read_batches(src, data)))
    assert batch.rows.get_column("N").to_list() == ["山田\u3000"]
    got = batch.rejects.select("record", "rule", "byte_offset", "message").rows()
    # byte_offset is the field's; where inside the field is in the message (the first 1-byte character)
    assert [(r, rule, off) for r, rule, off, _ in got] == [(2, "dbcs_single", 6), (3, "dbcs_single", 12)]
    assert "byte 2 of the field" in got[0][3] and "byte 0 of the field" in got[1][3]


def test_dbcs_euc_jp_refuses_three_byte_characters(tmp_path: Path) -> None:
    src = SourceFile("f", "f", "fixed", "euc-jp", "*", (SourceField("N", "dbcs", 0, 4),), record_length=4)
    data = tmp_path / "x.DAT"
    three = "丂".encode("euc_jp")  # JIS X 0212: 3 bytes in EUC-JP
    assert len(three) == 3
    data.write_bytes("山田".encode("euc_jp") + three + b"a")
    batch = next(iter(read_batches(src, data)))
    assert batch.rows.height == 1 and batch.rejects.get_column("rule").to_list() == ["dbcs_single"]


@pytest.mark.skipif(not available("ibm930"), reason="this system's iconv has no IBM930")
def test_dbcs_ibm930_decodes_without_shift_codes(tmp_path: Path) -> None:
    src = SourceFile(
        "f",
        "f",
        "fixed",
        "ibm930",
        "*",
        (SourceField("N", "dbcs", 0, 6), SourceField("T", "text", 6, 2)),
        record_length=8,
    )
    field = "山田　".encode("ibm930")[1:-1]  # drop SO … SI: PIC N holds the pairs alone
    assert len(field) == 6
    data = tmp_path / "x.DAT"
    data.write_bytes(field + "AB".encode("ibm930") + field[:2] + b"\x0e" + field[3:] + "CD".encode("ibm930"))
    batch = next(iter(read_batches(src, data)))
    assert batch.rows.select("N", "T").rows() == [("山田\u3000", "AB")]
    r = batch.rejects.row(0, named=True)
    assert (r["record"], r["field"]) == (2, "N") and 8 <= r["byte_offset"] < 14


def test_dbcs_needs_an_encoding_with_a_double_byte_decoder(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="not defined for utf-8"):
        load_source(_source(tmp_path, "      - {id: N, start: 1, length: 10, type: dbcs}\n", enc="utf-8"))
    with pytest.raises(DefinitionError, match="even"):
        load_source(
            _source(
                tmp_path,
                "      - {id: N, start: 1, length: 9, type: dbcs}\n      - {id: F, start: 10, length: 1, type: filler}\n",
            )
        )


def test_scale_reads_an_implied_decimal_exactly(tmp_path: Path) -> None:
    path = _source(
        tmp_path,
        "      - {id: A, start: 1, length: 6, type: zoned, scale: 2}\n      - {id: F, start: 7, length: 4, type: filler}\n",
    )
    src = load_source(path).file("f")
    data = tmp_path / "x.DAT"
    data.write_bytes(b"012345    00000J    ")
    rows = pl.concat([b.rows for b in read_batches(src, data)])
    assert [str(v) for v in rows.get_column("A").to_list()] == ["123.45", "-0.01"]
    with pytest.raises(DefinitionError, match="only numeric"):
        load_source(_source(tmp_path, "      - {id: A, start: 1, length: 10, scale: 2}\n"))


CHARS_LAYOUT = """family: t
family_name: t
gyomu: g
gyomu_name: g
version: "1"
encoding: utf-8
provenance: test
files:
  - id: f
    name: f
    key: [k]
    items:
      - {id: k, name: キー, type: string, digits: 3, required: true}
      - {id: shimei, name: 氏名, type: string, chars: 2}
"""


def test_chars_counts_a_base_and_its_ivs_as_one_in_both_validators(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text(CHARS_LAYOUT, encoding="utf-8")
    lay = load_layout(path)
    assert lay.file("f").item("shimei").unit == "chars"
    values = ["葛\U000e0100飾区", "葛\U000e0100飾", "山田太郎", "髙𠮷", None]
    n = len(values)
    rows = pl.DataFrame(
        {
            "k": ["001"] * n,
            "shimei": values,
            FILE: ["x"] * n,
            REC: list(range(1, n + 1)),
            OFF: [0] * n,
            RAW: [b""] * n,
        }
    )
    good, rejects = rules.validate_rows(lay, lay.file("f"), rows)
    ref_good, ref_rejects = schema.validate_with_pandera(lay, lay.file("f"), rows)
    assert rejects.equals(ref_rejects) and good.equals(ref_good)
    assert rejects.select("record", "rule").rows() == [(1, "length_chars"), (3, "length_chars")]


def test_chars_is_for_text_items_only(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text(
        CHARS_LAYOUT.replace("type: string, digits: 3", "type: number, chars: 3"), encoding="utf-8"
    )
    with pytest.raises(DefinitionError, match="only string and code"):
        load_layout(path)


def test_a_chars_item_has_no_fixed_width_and_postgres_holds_it_as_text(tmp_path: Path) -> None:
    from midlayout.writers.fixed import OutputError, render_fixed
    from midlayout.writers.postgres.ddl import pg_type

    path = tmp_path / "l.yaml"
    path.write_text(CHARS_LAYOUT, encoding="utf-8")
    lay = load_layout(path)
    with pytest.raises(OutputError, match="characters"):
        render_fixed(lay, lay.file("f"), pl.DataFrame({"k": ["001"], "shimei": ["山田"]}))
    assert pg_type(lay.file("f").item("shimei")).as_string(None) == "text"  # type: ignore[arg-type]
