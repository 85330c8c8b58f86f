"""`convert` end to end on vendor A extracts built in code: outputs, rejects, cross-file rules, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.layout.standard import sha256_file
from midlayout.pipeline.convert import ConvertOptions, ConvertResult, convert
from tests.builders import household, person, tax, write_vendor_a
from tests.conftest import MAPPINGS, SAMPLES

JUKI = MAPPINGS / "vendor_a" / "juki-2.5.yaml"
ZEI = MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"
WRITERS = ("parquet", "duckdb", "standard")


def run(
    tmp_path: Path, people: list, households: list, taxes: list | None = None, **kw: object
) -> ConvertResult:
    paths = write_vendor_a(tmp_path / "in", people, households, taxes)
    mappings = [load_mapping(JUKI)] + ([load_mapping(ZEI)] if taxes is not None else [])
    return convert(mappings, [str(p) for p in paths], tmp_path / "out", ConvertOptions(WRITERS, **kw))  # type: ignore[arg-type]


def rejects_by_record(result: ConvertResult, file_name: str) -> dict[int, set[str]]:
    r = result.rejects.filter(pl.col("file").str.ends_with(file_name))
    out: dict[int, set[str]] = {}
    for rec, rule in r.select("record", "rule").iter_rows():
        out.setdefault(rec, set()).add(rule)
    return out


def clean_family() -> tuple[list, list]:
    return [person(1, 100, 1, "01"), person(2, 100, 2, "02", SEX="F"), person(3, 100, 3, "04")], [
        household(100, 1)
    ]


def test_clean_extract_is_written_to_every_target(tmp_path: Path) -> None:
    people, households = clean_family()
    result = run(tmp_path, people, households, [tax(1), tax(2)])
    m = result.manifest
    assert result.rejected == 0 and m.status == "ok" and m.exit_code == 0
    assert [(i.records_read, i.records_written, i.records_rejected) for i in m.inputs] == [
        (3, 3, 0),
        (1, 1, 0),
        (2, 2, 0),
    ]
    out = tmp_path / "out"
    jumin = pl.read_parquet(out / "parquet" / "juki" / "jumin.parquet")
    assert jumin.get_column("zokugara").to_list() == ["02", "12", "20"]
    assert jumin.get_column("seibetsu").to_list() == ["1", "2", "1"]
    assert jumin.get_column("shimei_kana").to_list()[0] == "シケン タロウ"
    assert jumin.get_column("jusho").to_list()[0] == "東京都千代田区千代田１番"
    setai = pl.read_parquet(out / "parquet" / "juki" / "setai.parquet")
    assert setai.get_column("setainushi_shimei").to_list() == ["試験\u3000太郎"]  # looked up from JUMIN
    kazei = pl.read_parquet(out / "parquet" / "kojin_juminzei" / "kazei.parquet")
    assert (
        kazei.get_column("kintowari").to_list() == [5000, 5000]
        and kazei.get_column("zeigaku").sum() == 510000
    )
    con = duckdb.connect(str(out / "midlayout.duckdb"), read_only=True)
    assert con.execute("select count(*) from juki.jumin").fetchone() == (3,)
    csv = (out / "standard" / "juki" / "jumin.csv").read_bytes().decode("cp932").splitlines()
    assert csv[0].startswith('"宛名番号","世帯番号"') and len(csv) == 4
    for o in m.outputs:
        assert sha256_file(Path(o["path"])) == o["sha256"]


def test_manifest_on_disk_records_versions_hashes_and_counts(tmp_path: Path) -> None:
    people, households = clean_family()
    run(tmp_path, people, households)
    data = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert data["tool"]["name"] == "midlayout" and data["tool"]["version"]
    assert data["layouts"][0]["id"] == "chukan/juki" and data["layouts"][0]["version"] == "2.5"
    assert data["mappings"][0]["sha256"] == sha256_file(JUKI)
    inp = data["inputs"][0]
    assert (
        inp["sha256"] == sha256_file(tmp_path / "out" / inp["path"])
        and inp["bytes"] == 3 * 302
        and inp["encoding"] == "cp932"
    )
    assert all(i["records_read"] == i["records_written"] + i["records_rejected"] for i in data["inputs"])
    assert {"total_s", "read_map_validate_s"} <= data["timings"].keys() and data["exit_code"] == 0


def test_each_mapping_failure_is_a_located_reject_with_raw_bytes(tmp_path: Path) -> None:
    people, households = clean_family()
    people += [
        person(4, 100, 4, "04", SEX="X"),
        person(5, 100, 5, "04", BIRTH="4310501"),
        person(6, 100, 6, "04", KISAI_JUNI="X1"),
    ]
    result = run(tmp_path, people, households)
    assert rejects_by_record(result, "JUMIN.DAT") == {
        4: {"code_unmapped"},
        5: {"invalid_wareki"},
        6: {"bad_zoned"},
    }
    row = result.rejects.filter(pl.col("rule") == "code_unmapped").row(0, named=True)
    assert (row["item"], row["field"], row["byte_offset"]) == ("seibetsu", "SEX", 3 * 302 + 119)
    raw = (tmp_path / "in" / "JUMIN.DAT").read_bytes()[3 * 302 : 3 * 302 + 300]
    assert row["raw"] == raw
    on_disk = pl.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert on_disk.filter(pl.col("rule") == "code_unmapped").get_column("raw").to_list() == [raw]
    assert result.manifest.exit_code == 1


def test_validation_rules_required_and_code_domain(tmp_path: Path) -> None:
    people, households = clean_family()
    people.append(person(4, 100, 4, "04", NAME_KANJI=""))
    result = run(tmp_path, people, households)
    assert rejects_by_record(result, "JUMIN.DAT") == {4: {"required"}}


def test_duplicate_keys_are_all_rejected(tmp_path: Path) -> None:
    people, households = clean_family()
    people.append(person(3, 100, 4, "04"))
    result = run(tmp_path, people, households, batch_size=2)  # duplicates land in different batches
    assert rejects_by_record(result, "JUMIN.DAT") == {3: {"key_unique"}, 4: {"key_unique"}}


def test_reference_and_one_head_rules_cascade(tmp_path: Path) -> None:
    people, households = clean_family()
    people += [
        person(4, 200, 1, "01"),
        person(5, 200, 2, "01"),
        person(6, 999, 1, "01"),
    ]  # two heads; no 世帯 999
    households.append(household(200, 4))
    result = run(tmp_path, people, households)
    jumin = rejects_by_record(result, "JUMIN.DAT")
    assert jumin == {4: {"reference"}, 5: {"reference"}, 6: {"reference"}}
    assert rejects_by_record(result, "SETAI.DAT") == {2: {"one_head_per_setai"}}
    # Staged rows do not carry their raw bytes; a cross-file reject reads them back from the input.
    cross = result.rejects.filter(pl.col("stage") == "crossfile")
    assert cross.height == 4
    for row in cross.iter_rows(named=True):
        data = Path(row["file"]).read_bytes()
        length, stride = (300, 302) if row["file"].endswith("JUMIN.DAT") else (150, 150)  # CRLF / none
        assert row["byte_offset"] == (row["record"] - 1) * stride
        assert row["raw"] == data[row["byte_offset"] : row["byte_offset"] + length]
    messages = dict(
        result.rejects.filter(pl.col("rule") == "reference").select("record", "message").iter_rows()
    )
    assert "itself rejected" in messages[4] and "has no match" in messages[6]
    m = result.manifest
    assert [(i.records_written, i.records_rejected) for i in m.inputs] == [(3, 3), (1, 1)]


def test_tax_records_must_reference_a_resident_of_the_same_run(tmp_path: Path) -> None:
    people, households = clean_family()
    result = run(tmp_path, people, households, [tax(1), tax(77)])
    assert rejects_by_record(result, "ZEI.DAT") == {2: {"reference"}}
    assert result.manifest.unchecked == []


def test_cross_layout_reference_not_in_run_is_reported_unchecked(tmp_path: Path) -> None:
    paths = write_vendor_a(tmp_path / "in", [], [], [tax(1)])
    result = convert([load_mapping(ZEI)], [str(paths[2])], tmp_path / "out", ConvertOptions(("parquet",)))
    assert result.manifest.unchecked == ["chukan/kojin_juminzei:kazei.atena_no → chukan/juki:jumin.atena_no"]


def test_lookup_without_match_is_a_reject(tmp_path: Path) -> None:
    people, households = clean_family()
    households.append(household(300, 42))  # 世帯主 42 is nobody
    people.append(person(8, 300, 1, "01"))
    result = run(tmp_path, people, households)
    assert rejects_by_record(result, "SETAI.DAT")[2] == {"lookup_missing"}


def test_empty_input_writes_empty_typed_outputs(tmp_path: Path) -> None:
    """With allow_empty (else an empty input is exit 2: tests/test_broken_extracts.py)."""
    result = run(tmp_path, [], [], allow_empty=True)
    assert [i.records_read for i in result.manifest.inputs] == [0, 0]
    assert (
        pl.read_parquet(tmp_path / "out" / "parquet" / "juki" / "jumin.parquet").schema["seinengappi"]
        == pl.Date
    )


def test_results_do_not_depend_on_batch_size(tmp_path: Path) -> None:
    people = [person(i, 1000 + i // 3, i % 3 + 1, "01" if i % 3 == 0 else "04") for i in range(60)]
    households = [household(1000 + s, 3 * s) for s in range(20)]
    a = run(tmp_path / "a", people, households, batch_size=7)
    b = run(tmp_path / "b", people, households, batch_size=100_000)
    for rel in ("standard/juki/jumin.csv", "standard/juki/setai.csv"):
        assert (tmp_path / "a" / "out" / rel).read_bytes() == (tmp_path / "b" / "out" / rel).read_bytes()
    rel = "parquet/juki/jumin.parquet"  # row groups follow batches; the rows must not
    assert pl.read_parquet(tmp_path / "a" / "out" / rel).equals(pl.read_parquet(tmp_path / "b" / "out" / rel))
    assert a.rejected == b.rejected == 0


def test_unknown_writer_is_a_usage_error(tmp_path: Path) -> None:
    from midlayout.errors import UsageError

    with pytest.raises(UsageError, match="unknown writer"):
        run(tmp_path, *clean_family(), writer_names=None) if False else convert(
            [load_mapping(JUKI)],
            [str(p) for p in write_vendor_a(tmp_path / "in", *clean_family())],
            tmp_path / "o",
            ConvertOptions(("xlsx",)),
        )


def test_every_reject_keeps_the_exact_input_bytes_csv(tmp_path: Path) -> None:
    """B社's CSV samples hold map and cross-file rejects; each reject's raw bytes are the record in the input
    (cross-file ones read back from the input, since staged rows do not carry them)."""
    inputs = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]
    result = convert(
        [load_mapping(MAPPINGS / "vendor_b" / "juki-2.5.yaml")], inputs, tmp_path / "o", ConvertOptions(())
    )
    assert {"map", "crossfile"} <= set(result.rejects.get_column("stage"))
    for row in result.rejects.iter_rows(named=True):
        data = Path(row["file"]).read_bytes()
        at = row["record_offset"]  # byte_offset is the field's, inside the record
        assert row["raw"] == data[at : at + len(row["raw"])]
        assert data[at + len(row["raw"]) :][:2] in (b"\r\n", b"\n", b"")  # a whole record
        assert at <= row["byte_offset"] < at + max(len(row["raw"]), 1)
