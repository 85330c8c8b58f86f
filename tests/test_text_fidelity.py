"""The trap corpus, built in code and run through the real `convert` pipeline: every character is either
exact in the output or listed with its location (rejects, gaiji-report.csv, repertoire-report.csv)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.audit.from_manifest import reconcile_run
from midlayout.audit.reconcile import Tolerances
from midlayout.cli import app
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline.convert import ConvertOptions, ConvertResult, convert
from midlayout.text import ebcdic
from tests.conftest import fixed_record

LAYOUT = """family: test
family_name: テスト
gyomu: traps
gyomu_name: 罠
version: "1.0"
encoding: cp932
provenance: synthetic test layout
{repertoire}
files:
  - id: person
    name: 個人
    key: [rec_no]
    items:
      - {{id: rec_no, name: 番号, type: string, digits: 4, required: true}}
      - {{id: name, name: 氏名, type: string, bytes: 20}}
      - {{id: kana, name: 氏名カナ, type: string, bytes: 40}}
      - {{id: birth, name: 生年月日, type: date}}
      - {{id: birth_fusho, name: 生年月日不詳, type: flag, required: true}}
      - {{id: amount, name: 金額, type: number, digits: 9}}
      - {{id: packed, name: 税額, type: number, digits: 9}}
  - id: host
    name: ホスト
    key: [rec_no]
    items:
      - {{id: rec_no, name: 番号, type: string, digits: 4, required: true}}
      - {{id: name, name: 氏名, type: string, bytes: 20}}
      - {{id: amount, name: 金額, type: number, digits: 9}}
"""

SOURCE = """vendor: trapco
name: 罠社
files:
  - id: person
    name: PERSON.DAT
    format: fixed
    encoding: sjis
    match: "PERSON*.DAT"
    record_length: 60
    terminator: crlf
    offset_base: 1
    fields:
      - {id: NUM, start: 1, length: 4}
      - {id: NAME, start: 5, length: 20}
      - {id: KANA, start: 25, length: 20}
      - {id: BIRTH, start: 45, length: 7}
      - {id: AMOUNT, start: 52, length: 6, type: zoned}
      - {id: PACK, start: 58, length: 3, type: packed}
  - id: host
    name: HOST.DAT
    format: fixed
    encoding: ibm930
    match: "HOST*.DAT"
    record_length: 20
    terminator: none
    offset_base: 1
    fields:
      - {id: NUM, start: 1, length: 4, type: zoned_ebcdic}
      - {id: NAME, start: 5, length: 12}
      - {id: AMOUNT, start: 17, length: 4, type: packed}
"""

MAPPING = """mapping: {id: traps, version: "1", source: source.yaml, target: "test/traps@1.0"}
gaiji: {table: gaiji.csv, encoding: cp932, unmapped: reject}
era_schemes:
  digits: {"1": meiji, "2": taisho, "3": showa, "4": heisei, "5": reiwa}
files:
  person:
    from: person
    items:
      rec_no: {from: NUM, ops: [trim]}
      name: {from: NAME, ops: [trim]}
      kana: {from: KANA, ops: [trim, zenkaku_kana]}
      birth: {from: BIRTH, ops: [{wareki: {format: era_yymmdd, eras: digits, partial: unknown}}]}
      birth_fusho: {from: BIRTH, ops: [{wareki_unknown: {format: era_yymmdd, eras: digits}}]}
      amount: {from: AMOUNT}
      packed: {from: PACK}
  host:
    from: host
    items:
      rec_no: {from: NUM}
      name: {from: NAME, ops: [trim]}
      amount: {from: AMOUNT}
"""

GAIJI = "code,replacement,mj,note\r\nF040,吉,MJ000001,つちよし (synthetic)\r\n"

OK_BIRTH = "4010108"
# (NO, NAME bytes, KANA, BIRTH, AMOUNT zoned, PACK packed) -> expected name / outcome
PERSONS: list[tuple[str, bytes, str, str, bytes, bytes]] = [
    ("0001", "髙﨑①㈱".encode("cp932"), "ﾀｶｻｷ", "3640107", b"00012{", b"\x12\x34\x5c"),
    ("0002", b"\x81\x60" + "波".encode("cp932"), "ﾅﾐ", "4010108", b"00001J", b"\x00\x01\x2d"),  # wave dash
    ("0003", b"\xf0\x40" + "田".encode("cp932"), "ﾖｼﾀﾞ", "4310430", b"000000", b"\x00\x00\x0c"),  # 外字 mapped
    (
        "0004",
        b"\xf0\x41" + "田".encode("cp932"),
        "ﾖｼﾀﾞ",
        OK_BIRTH,
        b"000001",
        b"\x00\x00\x1c",
    ),  # 外字 unmapped
    ("0005", "山﨑".encode("cp932"), "ｶﾞｯｺｳ ﾊﾟﾝ", "5010501", b"000002", b"\x00\x00\x2c"),
    ("0006", "山崎".encode("cp932"), "ﾔﾏｻﾞｷ", "3500000", b"000003", b"\x00\x00\x3c"),  # 不詳
    ("0007", "邉邊".encode("cp932"), "ﾜﾀﾅﾍﾞ", "3641200", b"000004", b"\x00\x00\x4c"),  # 昭和64年12月: invalid
    (
        "0008",
        b"A" * 19 + b"\x88",
        "ｱ",
        OK_BIRTH,
        b"000005",
        b"\x00\x00\x5c",
    ),  # lead byte cut at the field end
    ("0009", b"\x81\x20" + b"B", "ｲ", OK_BIRTH, b"000006", b"\x00\x00\x6c"),  # invalid bytes
    ("0010", "高".encode("cp932"), "ｳ", "4310501", b"000007", b"\x00\x00\x7c"),  # 平成31年5月1日: invalid
]
EXPECTED = {  # rec_no -> (name, kana, birth, fusho, amount, packed)
    "0001": ("髙﨑①㈱", "タカサキ", dt.date(1989, 1, 7), False, 120, 12345),
    "0002": ("\uff5e波", "ナミ", dt.date(1989, 1, 8), False, -11, -12),
    "0003": ("吉田", "ヨシダ", dt.date(2019, 4, 30), False, 0, 0),
    "0005": ("山﨑", "ガッコウ パン", dt.date(2019, 5, 1), False, 2, 2),
    "0006": ("山崎", "ヤマザキ", None, True, 3, 3),
}
REJECTED = {  # rec_no -> (rule, field or item, the field's offset in the record, or None)
    "0004": ("gaiji_unmapped", "NAME", 4),
    "0007": ("invalid_wareki", "birth", None),
    "0008": ("char_cut", "NAME", 4),  # the cut character is at byte 19 of the field (in the message)
    "0009": ("invalid_bytes", "NAME", 4),
    "0010": ("invalid_wareki", "birth", None),
}
SO, SI = b"\x0e", b"\x0f"
HOST = [  # zoned EBCDIC NO, NAME (12 bytes with SO/SI), packed AMOUNT
    b"\xf0\xf0\xf1\xf1" + b"\xc1" + SO + b"\x45\x41\x42\xf1" + SI + b"\x40" * 5 + b"\x00\x00\x10\x0c",
    b"\xf0\xf0\xf1\xf2" + SO + b"\x45\x41\x45\x41\x45\x41\x45\x41\x45\x41\x45" + b"\x00\x00\x00\x1d",  # cut
]


def _corpus(tmp_path: Path, repertoire: str = "") -> tuple[Path, list[str]]:
    layouts = tmp_path / "layouts" / "test" / "traps"
    layouts.mkdir(parents=True)
    (layouts / "1.0.yaml").write_text(LAYOUT.format(repertoire=repertoire), encoding="utf-8")
    maps = tmp_path / "map"
    maps.mkdir()
    (maps / "source.yaml").write_text(SOURCE, encoding="utf-8")
    (maps / "traps.yaml").write_text(MAPPING, encoding="utf-8")
    (maps / "gaiji.csv").write_bytes(GAIJI.encode("utf-8"))
    person = tmp_path / "PERSON.DAT"
    person.write_bytes(
        b"".join(
            fixed_record([(no, 4), (name, 20), (kana, 20), (birth, 7), (amount, 6), (packed, 3)], 60)
            + b"\r\n"
            for no, name, kana, birth, amount, packed in PERSONS
        )
    )
    host = tmp_path / "HOST.DAT"
    host.write_bytes(b"".join(HOST))
    return maps / "traps.yaml", [str(person), str(host)]


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repertoire: str = "", **kw: str) -> ConvertResult:
    mapping, inputs = _corpus(tmp_path, repertoire)
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    options = ConvertOptions(("parquet", "standard"), **kw)  # type: ignore[arg-type]
    return convert([load_mapping(mapping)], inputs, tmp_path / "out", options)


pytestmark = pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")


def test_trap_corpus_every_character_exact_or_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(tmp_path, monkeypatch)
    out = pl.read_parquet(tmp_path / "out" / "parquet" / "traps" / "person.parquet")
    got = {
        r[0]: r[1:]
        for r in out.select("rec_no", "name", "kana", "birth", "birth_fusho", "amount", "packed").rows()
    }
    assert got == EXPECTED
    rejects = result.rejects.filter(pl.col("file").str.ends_with("PERSON.DAT"))
    for no, (rule, where, byte) in REJECTED.items():
        rec = int(no)
        row = rejects.filter(pl.col("record") == rec).row(0, named=True)
        assert row["rule"] == rule and where in (row["field"], row["item"]), (no, row)
        if byte is not None:
            assert row["byte_offset"] == (rec - 1) * 62 + byte
    assert set(got) | set(REJECTED) == {p[0] for p in PERSONS}  # nothing lost
    # 﨑 and 崎 stay distinct, and nothing was folded to 高 / 邊.
    assert got["0005"][0] != got["0006"][0]
    # The standard CSV holds the same bytes CP932 started with (the wave dash is 0x8160 again).
    csv = (tmp_path / "out" / "standard" / "traps" / "person.csv").read_bytes()
    assert "髙﨑①㈱".encode("cp932") in csv and b"\x81\x60" + "波".encode("cp932") in csv


def test_trap_corpus_host_file_and_gaiji_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(tmp_path, monkeypatch)
    host = pl.read_parquet(tmp_path / "out" / "parquet" / "traps" / "host.parquet")
    assert host.rows() == [("11", "A一１", 100)]
    cut = result.rejects.filter(pl.col("file").str.ends_with("HOST.DAT")).row(0, named=True)
    assert (cut["record"], cut["rule"], cut["field"], cut["byte_offset"]) == (2, "char_cut", "NAME", 20 + 4)
    assert cut["record_offset"] == 20 and "(byte 11 of the field)" in cut["message"]
    report = pl.read_csv(tmp_path / "out" / "gaiji-report.csv")
    rows = {r["code"]: r for r in report.iter_rows(named=True)}
    assert rows["F041"]["status"] == "unmapped" and rows["F041"]["action"] == "rejected"
    assert rows["F041"]["first_locations"] == "PERSON.DAT:4 NAME@190"
    assert rows["F040"]["status"] == "mapped" and rows["F040"]["count"] == 1
    text = result.manifest.text["gaiji"]
    assert text["unmapped_occurrences"] == 1 and text["flagged_records"] == 0
    m = result.manifest
    assert all(i.records_read == i.records_written + i.records_rejected for i in m.inputs)


def test_flag_policy_keeps_the_pua_character_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(tmp_path, monkeypatch, gaiji_unmapped="flag")
    out = pl.read_parquet(tmp_path / "out" / "parquet" / "traps" / "person.parquet")
    assert out.filter(pl.col("rec_no") == "0004").get_column("name").to_list() == ["\ue001田"]
    assert result.manifest.text["gaiji"]["flagged_records"] == 1
    assert result.manifest.status == "rejects" and result.flagged == 1
    report = pl.read_csv(tmp_path / "out" / "gaiji-report.csv")
    assert report.filter(pl.col("code") == "F041").get_column("action").to_list() == ["kept"]


def test_reconcile_re_maps_with_the_runs_gaiji_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured on 2924ff0: a run with --gaiji-unmapped flag failed its own reconciliation, because the
    re-read rejected the flagged record (the mapping's policy) that the run had written."""
    mapping, inputs = _corpus(tmp_path)
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    options = ConvertOptions(("parquet", "duckdb"), gaiji_unmapped="flag")
    assert convert([load_mapping(mapping)], inputs, tmp_path / "out", options).flagged == 1
    cert = reconcile_run(tmp_path / "out" / "manifest.json", Tolerances())
    assert cert["passed"], [c for c in cert["checks"] if not c["passed"]]


def test_repertoire_jisx0208_lists_characters_and_suggestions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(tmp_path, monkeypatch, repertoire="repertoire: jisx0208")
    rep = {
        r["code"]: r for r in pl.read_csv(tmp_path / "out" / "repertoire-report.csv").iter_rows(named=True)
    }
    assert {"U+9AD9", "U+FA11", "U+2460", "U+3231", "U+FF5E"} <= set(rep)
    assert "高" in rep["U+9AD9"]["suggestions"].split() and "崎" in rep["U+FA11"]["suggestions"].split()
    assert rep["U+9AD9"]["first_locations"] == "PERSON.DAT:1 name char 1"
    out = pl.read_parquet(tmp_path / "out" / "parquet" / "traps" / "person.parquet")
    names = out.get_column("name").to_list()
    assert "山崎" in names and not any("高" in n or "崎" == n for n in names)  # suggestions never applied
    msg = result.rejects.filter((pl.col("rule") == "repertoire") & (pl.col("record") == 1)).get_column(
        "message"
    )[0]
    assert msg.startswith("outside cp932 and jisx0208: U+9AD9 at char 1")


def test_cli_convert_json_and_gaiji_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping, inputs = _corpus(tmp_path)
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    args = [
        "convert",
        "-m",
        str(mapping),
        *inputs,
        "-o",
        str(tmp_path / "o"),
        "-w",
        "parquet",
        "--json",
        "--gaiji-unmapped",
        "flag",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert data["text"]["gaiji"]["unmapped_policy"] == {"traps": "flag"}
    assert data == json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    human = CliRunner().invoke(app, [a for a in args if a != "--json"][:-2] + ["-o", str(tmp_path / "h")])
    assert human.exit_code == 1 and "外字" in human.stdout and "F041" in human.stdout
    assert "髙﨑" not in human.stdout + human.stderr  # codes only, never values
    bad = CliRunner().invoke(app, [*args[:-1], "ignore"])
    assert bad.exit_code == 2 and "--gaiji-unmapped" in bad.stderr


def test_gaiji_table_is_validated_with_file_and_line(tmp_path: Path) -> None:
    from midlayout.errors import DefinitionError
    from midlayout.layout.gaiji import load_gaiji_table

    cases = {
        "code,replacement\nF040,吉\nZZ,x\n": ("not hex", 3),
        "code,replacement\nF040,吉\nF040,吉\n": ("already mapped on line 2", 3),
        "code,replacement\nF040,\ue000\n": ("private-use", 2),
        "code,replacement,mj\nF040,吉,XX1\n": ("MJ文字図形名", 2),
        "code,replacement,colour\n": ("header", 1),
    }
    for i, (text, (message, line)) in enumerate(cases.items()):
        path = tmp_path / f"g{i}.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DefinitionError, match=message) as info:
            load_gaiji_table(path)
        assert info.value.location.line == line and info.value.location.file == str(path)
    ivs = tmp_path / "ivs.csv"
    ivs.write_text("code,replacement\nF040,U+845B U+E0100\n", encoding="utf-8")
    assert load_gaiji_table(ivs).entries[0].replacement == "葛\U000e0100"
