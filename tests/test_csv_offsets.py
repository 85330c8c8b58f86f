"""`byte_offset` of a CSV reject is the file offset of the field the rule concerns (a quoted field: its
opening quote), `record_offset` the record's: for decode rejects (invalid bytes, U+FFFD) and map rejects
(an unmapped code), on the vendor B sample with one value changed per record."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.readers.csv import field_starts
from tests.conftest import MAPPINGS, SAMPLES

runner = CliRunner()
PERSON = SAMPLES / "vendor_b" / "person.csv"
HOUSEHOLD = SAMPLES / "vendor_b" / "household.csv"


def _rejects(tmp_path: Path, person: bytes) -> pl.DataFrame:
    path = tmp_path / "person.csv"
    path.write_bytes(person)
    out = tmp_path / "out"
    args = ["convert", "-m", str(MAPPINGS / "vendor_b" / "juki-2.5.yaml"), str(path), str(HOUSEHOLD)]
    result = runner.invoke(app, [*args, "--out", str(out), "-w", "parquet", "--workers", "1"])
    assert result.exit_code in (0, 1), result.output
    return pl.read_parquet(out / "rejects.parquet").filter(pl.col("file") == str(path))


SEX = ('"男"'.encode(), '"女"'.encode())  # the 性別 field, quoted


def _change(data: bytes, line_no: int, new: bytes) -> tuple[bytes, int, int]:
    """`data` with the 性別 value of the record on line `line_no` (or the next line that starts a record
    and holds one) replaced; returns the record's offset and the changed field's offset."""
    lines = data.split(b"\n")
    while not (lines[line_no].startswith(b'"0000') and any(s in lines[line_no] for s in SEX)):
        line_no += 1
    line = lines[line_no]
    old = next(s for s in SEX if s in line)
    lines[line_no] = line.replace(old, new, 1)
    record = line_no
    rec = sum(len(x) + 1 for x in lines[:record])
    return b"\n".join(lines), rec, rec + line.index(old)


def test_field_starts_of_a_record() -> None:
    assert field_starts(b'"a,b","c""d",e,"",f"g', 0x22, 0x2C) == [0, 6, 13, 15, 18]
    assert field_starts(b"", 0x22, 0x2C) == [0]
    assert field_starts(b'"x\r\ny",', 0x22, 0x2C) == [0, 7]


def test_csv_rejects_carry_the_fields_offset(tmp_path: Path) -> None:
    data = PERSON.read_bytes()
    data, rec_map, at_map = _change(data, 1, b'"X"')  # an unmapped 性別 code
    data, rec_bad, at_bad = _change(data, 4, b'"\xff"')  # not UTF-8
    data, rec_fffd, at_fffd = _change(data, 7, '"\ufffd"'.encode())  # decodes to U+FFFD
    rejects = _rejects(tmp_path, data)
    got = {
        r["record_offset"]: (r["rule"], r["field"], r["byte_offset"]) for r in rejects.iter_rows(named=True)
    }
    assert got[rec_map] == ("code_unmapped", "seibetsu", at_map)
    assert got[rec_bad] == ("invalid_bytes", "seibetsu", at_bad)
    assert got[rec_fffd] == ("replacement_char", "seibetsu", at_fffd)
    assert data[at_map : at_map + 1] == b'"' and at_map > rec_map  # the opening quote, inside the record


def test_field_count_reject_stays_at_the_record(tmp_path: Path) -> None:
    data = PERSON.read_bytes()
    data, rec, _ = _change(data, 2, '"男","extra"'.encode())
    rejects = _rejects(tmp_path, data)
    row = rejects.filter(pl.col("rule") == "field_count").row(0, named=True)
    assert row["byte_offset"] == row["record_offset"] == rec
