"""COBOL copybook → source layout: the grammar subset, and extracts described only by a copybook."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from midlayout.cli.app import app
from midlayout.errors import DefinitionError
from midlayout.layout.copybook import parse_copybook
from midlayout.layout.source import load_source
from midlayout.readers import read_batches
from midlayout.text.ebcdic import available

runner = CliRunner()

COPYBOOK = """\
      * 住民レコード（試験用の架空のもの）
       01  JUMIN-REC.
           05  ATENA-NO        PIC X(10).
           05  SHIMEI          PIC N(10).
           05  BIRTH.
               10  BIRTH-Y     PIC 9(4).
               10  BIRTH-MD    PIC 9(4).
           05  ZEIGAKU         PIC S9(9)V99 COMP-3.
           05  KOJO            PIC S9(7) COMP-3 OCCURS 3 TIMES.
           05  NINZU           PIC S9(4) BINARY.
           05  SEX             PIC X.
               88  MALE        VALUE '1'.
           05  FILLER          PIC X(5).
"""


def test_grammar_subset() -> None:
    text = """\
000100 01  REC.                                                         PROG0001
000200*    a comment in the indicator column                            PROG0002
000300     05  A   PICTURE IS X(3).                                     PROG0003
000400     05  GRP USAGE IS COMP-3 OCCURS 2.
000500         10  P   PIC S9(5).
000600         10  Q   PIC 9(3)V9(2).
000700     05  B   PIC S9(9) COMP.
000800     05  C   PIC G(2) USAGE DISPLAY-1.
000900     05  D   PIC ZZ9.
001000     05  FILLER PIC X(2).
001100     05      PIC X.
"""
    name, fields = parse_copybook(Path("t.cpy"), text)
    got = [(f.name, f.start, f.length, f.type, f.signed, f.scale) for f in fields]
    assert name == "REC"
    assert got == [
        ("A", 0, 3, "text", False, 0),
        ("P_1", 3, 3, "packed", True, 0),
        ("Q_1", 6, 3, "packed", False, 2),
        ("P_2", 9, 3, "packed", True, 0),
        ("Q_2", 12, 3, "packed", False, 2),
        ("B", 15, 4, "binary", True, 0),
        ("C", 19, 4, "dbcs", False, 0),
        ("D", 23, 3, "text", False, 0),
        ("FILLER", 26, 2, "filler", False, 0),
        ("FILLER", 28, 1, "filler", False, 0),
    ]


def test_level_88_is_kept_as_a_note() -> None:
    _, fields = parse_copybook(Path("t.cpy"), COPYBOOK)
    sex = next(f for f in fields if f.name == "SEX")
    assert sex.notes == ("88 MALE VALUE '1'",)
    assert sum(f.length for f in fields) == 64


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("           05  X REDEFINES SEX PIC 9.", "pass --redefines first"),
        ("           05  X PIC X(3) SIGN LEADING SEPARATE.", "SIGN"),
        ("           05  X PIC X(3) BLANKET.", "'BLANKET' is not a clause"),
        ("           05  X OCCURS 1 TO 5 DEPENDING ON NINZU PIC X.", "DEPENDING"),
        ("           05  X PIC 9(3)P.", "P scaling"),
        ("       01  OTHER-REC PIC X.", "a second 01 record"),
        ("           05  X PIC X OCCURS 0 TIMES.", "OCCURS 0"),
        ("           05  X PIC X OCCURS 99999999 TIMES.", "OCCURS 99999999"),
    ],
)
def test_refusals_name_the_line(line: str, fault: str) -> None:
    text = COPYBOOK + line + "\n"
    with pytest.raises(DefinitionError) as err:
        parse_copybook(Path("t.cpy"), text)
    assert fault in str(err.value) and err.value.location.line == 14


def test_nested_occurs_beyond_the_item_bound_is_refused_at_once() -> None:
    text = COPYBOOK + "           05  G OCCURS 1000 TIMES.\n             10  H PIC X OCCURS 1000 TIMES.\n"
    with pytest.raises(DefinitionError) as err:
        parse_copybook(Path("t.cpy"), text)
    assert "more than 100,000 items" in str(err.value) and err.value.location.line == 15


def test_redefines_first_keeps_the_first_definition() -> None:
    text = COPYBOOK + "           05  SEX-N REDEFINES FILLER PIC 9(5).\n"
    _, fields = parse_copybook(Path("t.cpy"), text, redefines="first")
    assert [f.name for f in fields][-1] == "FILLER" and sum(f.length for f in fields) == 64


def _packed(value: int, digits: int) -> bytes:
    text = f"{abs(value):0{digits}d}" + ("D" if value < 0 else "C")
    if len(text) % 2:
        text = "0" + text
    return bytes.fromhex(text)


def _record(enc: str, atena: str, name: str, birth: str, zei: int, kojo: list[int], ninzu: int) -> bytes:
    wide = name.ljust(10, "\u3000").encode(enc)
    if enc == "ibm930":
        wide = wide[1:-1]  # PIC N: the double-byte pairs without SO/SI
    return (
        atena.encode(enc)
        + wide
        + birth.encode(enc)
        + _packed(zei, 11)
        + b"".join(_packed(k, 7) for k in kojo)
        + ninzu.to_bytes(2, "big", signed=True)
        + "1".encode(enc)
        + " ".encode(enc) * 5
    )


@pytest.mark.parametrize("enc", ["ibm930", "cp932"])
def test_an_extract_described_only_by_a_copybook_converts(tmp_path: Path, enc: str) -> None:
    if enc == "ibm930" and not available("ibm930"):
        pytest.skip("this system's iconv has no IBM930")
    cpy = tmp_path / "JUMIN.cpy"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    out = tmp_path / "jumin-source.yaml"
    res = runner.invoke(
        app,
        [
            "layouts",
            "import",
            str(cpy),
            "--as",
            "source",
            "--encoding",
            enc,
            "--match",
            "JUMIN*.DAT",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    src = load_source(out).file("jumin_rec")
    assert src.record_length == 64 == sum(f.length for f in src.fields)
    assert src.field("ZEIGAKU").scale == 2 and src.field("SHIMEI").type == "dbcs"
    assert src.field("BIRTH_Y").type == ("zoned_ebcdic" if enc == "ibm930" else "zoned")
    data = tmp_path / "JUMIN01.DAT"
    data.write_bytes(
        _record(enc, "0000000001", "山田　太郎", "19800101", 12345678, [1, -2, 3], 4)
        + _record(enc, "0000000002", "髙橋", "20010230", -5, [0, 0, 0], -1)
    )
    batch = next(iter(read_batches(src, data)))
    assert batch.rejects.height == 0
    rows = batch.rows.select("ATENA_NO", "SHIMEI", "BIRTH_Y", "ZEIGAKU", "KOJO_2", "NINZU", "SEX").rows()
    assert [(a, s, y, str(z), k, n, x) for a, s, y, z, k, n, x in rows] == [
        ("0000000001", "山田\u3000太郎" + "\u3000" * 5, 1980, "123456.78", -2, 4, "1"),
        ("0000000002", "髙橋" + "\u3000" * 8, 2001, "-0.05", 0, -1, "1"),
    ]
    assert "FILLER" not in batch.rows.columns


def test_a_vendor_record_layout_sheet_imports_as_source(tmp_path: Path) -> None:
    sheet = tmp_path / "レコードレイアウト.csv"
    sheet.write_text(
        "A社 住民ファイル レコードレイアウト\n\n"
        "No,項目名,開始位置,バイト数,属性,備考\n"
        "1,ATENA_NO,1,10,X,\n"
        "2,氏名,11,２０,N,全角\n"
        ",【金額】,,,,\n"
        '3,ZEIGAKU,31,"11,2",packed,\n'
        "4,予備,37,4,X,\n"
        "\n※ 文字コードはSJIS\n",
        encoding="cp932",
    )
    out = tmp_path / "s.yaml"
    res = runner.invoke(
        app,
        [
            "layouts",
            "import",
            str(sheet),
            "--as",
            "source",
            "--encoding",
            "sjis",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    src = load_source(out).files[0]
    got = [(f.id, f.start, f.length, f.type, f.scale) for f in src.fields]
    assert got == [
        ("ATENA_NO", 0, 10, "text", 0),
        ("F002", 10, 20, "dbcs", 0),
        ("ZEIGAKU", 30, 6, "packed", 2),
        ("F004", 36, 4, "filler", 0),
    ]
    assert src.record_length == 40 and src.encoding == "cp932"


def test_a_gap_in_a_record_layout_sheet_is_not_written(tmp_path: Path) -> None:
    sheet = tmp_path / "r.csv"
    sheet.write_text("項目名,開始位置,バイト数,属性\nA,1,10,X\nB,15,5,X\n", encoding="utf-8")
    out = tmp_path / "s.yaml"
    res = runner.invoke(
        app, ["layouts", "import", str(sheet), "--as", "source", "--encoding", "cp932", "--out", str(out)]
    )
    assert res.exit_code == 2 and "bytes 11 to 14" in res.stderr.replace("\n", "")
    assert not out.exists() and not list(tmp_path.glob("*.yaml"))


HOST_LAYOUT = """family: host
family_name: host
gyomu: jumin
gyomu_name: 住民
version: "1"
encoding: utf-8
provenance: test
files:
  - id: jumin
    name: 住民
    key: [atena_no]
    items:
      - {id: atena_no, name: 宛名番号, type: string, digits: 10, required: true}
      - {id: shimei, name: 氏名, type: string, chars: 10, required: true}
      - {id: birth_y, name: 生年, type: number, digits: 4}
      - {id: zeigaku, name: 税額, type: number, digits: 9, scale: 2}
      - {id: ninzu, name: 人数, type: number, digits: 4}
"""

HOST_MAPPING = """mapping:
  id: host-jumin
  version: "1"
  source: source.yaml
  target: host/jumin@1
files:
  jumin:
    from: jumin_rec
    items:
      atena_no: {from: ATENA_NO}
      shimei: {from: SHIMEI, ops: [trim]}
      birth_y: {from: BIRTH_Y}
      zeigaku: {from: ZEIGAKU}
      ninzu: {from: NINZU}
"""


@pytest.mark.parametrize("enc", ["ibm930", "cp932"])
def test_a_copybook_extract_converts_into_a_layout_with_decimals(
    tmp_path: Path, enc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if enc == "ibm930" and not available("ibm930"):
        pytest.skip("this system's iconv has no IBM930")
    import polars as pl

    layouts = tmp_path / "layouts" / "host" / "jumin"
    layouts.mkdir(parents=True)
    (layouts / "1.yaml").write_text(HOST_LAYOUT, encoding="utf-8")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    cpy = tmp_path / "JUMIN.cpy"
    cpy.write_text(COPYBOOK, encoding="utf-8")
    res = runner.invoke(
        app,
        [
            "layouts",
            "import",
            str(cpy),
            "--as",
            "source",
            "--encoding",
            enc,
            "--match",
            "JUMIN*.DAT",
            "--out",
            str(tmp_path / "m" / "source.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    (tmp_path / "m" / "jumin.yaml").write_text(HOST_MAPPING, encoding="utf-8")
    data = tmp_path / "JUMIN01.DAT"
    data.write_bytes(
        _record(enc, "0000000001", "山田　太郎", "19800101", 12345678, [1, -2, 3], 4)
        + _record(enc, "0000000002", "髙橋", "20010230", -5, [0, 0, 0], -1)
        + _record(
            enc, "0000000003", "佐藤", "19990101", 99999999999, [0, 0, 0], 1
        )  # 999,999,999.99: too wide
    )
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["convert", "-m", str(tmp_path / "m" / "jumin.yaml"), str(data), "--out", str(out), "-w", "parquet"],
    )
    assert res.exit_code == 1, res.output
    rows = pl.read_parquet(out / "parquet" / "jumin" / "jumin.parquet")
    assert rows.schema["zeigaku"] == pl.Decimal(9, 2)
    got = [
        (a, s, y, str(z), n)
        for a, s, y, z, n in rows.select("atena_no", "shimei", "birth_y", "zeigaku", "ninzu").rows()
    ]
    assert got == [
        ("0000000001", "山田\u3000太郎", 1980, "123456.78", 4),
        ("0000000002", "髙橋", 2001, "-0.05", -1),
    ]
    rejects = pl.read_parquet(out / "rejects.parquet")
    assert rejects.select("record", "rule", "field").rows() == [(3, "decimal_lost", "ZEIGAKU")]


def test_import_to_an_out_under_a_file_is_exit_2(tmp_path: Path) -> None:
    """`--out` below an existing file cannot be created: the user's path, one line (exit 2), not exit 3."""
    cpy = tmp_path / "r.cpy"
    cpy.write_text("       01  R.\n           05  A PIC X(3).\n", encoding="utf-8")
    (tmp_path / "f.txt").write_text("x")
    args = ["layouts", "import", str(cpy), "--as", "source", "--encoding", "cp932"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "f.txt" / "r.yaml")])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "f.txt" in result.output
