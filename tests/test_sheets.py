"""`layouts import` / `layouts export`: sheets in, sheets out, and import(export(x)) == x for every layout."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from midlayout.cli.app import app
from midlayout.layout.model import Layout
from midlayout.layout.registry import list_layouts
from midlayout.layout.sheetformat import derive_id, parse_length
from midlayout.layout.standard import load_layout

runner = CliRunner()
LAYOUTS = Path(__file__).resolve().parents[1] / "layouts"
BUNDLED = [e.ref for e in list_layouts(LAYOUTS)]


def comparable(lay: Layout) -> Layout:
    """The model without its path, sha256 and provenance (code tables without their path)."""
    tables = {k: dataclasses.replace(t, path=Path()) for k, t in lay.code_tables.items()}
    return dataclasses.replace(lay, path=Path(), sha256="", provenance="", code_tables=tables)


def _run(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("ref", BUNDLED)
def test_import_of_export_is_the_layout(tmp_path: Path, ref: str, fmt: str) -> None:
    out = tmp_path / ("book.xlsx" if fmt == "xlsx" else "csv")
    res = _run("layouts", "export", ref, "--format", fmt, "--out", str(out), "--layouts-dir", str(LAYOUTS))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    res = _run("layouts", "import", str(out), "--as", "standard", "--out", str(tmp_path / "tree"), "--json")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    family, rest = ref.split("/")
    gyomu, version = rest.split("@")
    back = load_layout(tmp_path / "tree" / family / gyomu / f"{version}.yaml")
    orig = load_layout(LAYOUTS / family / gyomu / f"{version}.yaml")
    assert comparable(back) == comparable(orig)
    assert "sha256" in back.provenance and out.name in back.provenance


def test_bundled_layouts_are_all_covered() -> None:
    assert {"chukan/juki@2.4", "chukan/juki@2.5", "chukan/kojin_juminzei@2.5"} <= set(BUNDLED)


@pytest.mark.parametrize(
    ("text", "count", "unit", "scale"),
    [
        ("10", 10, None, 0),
        ("１０", 10, None, 0),
        ("9(5)", 5, "digits", 0),
        ("X(20)", 20, "bytes", 0),
        ("N(10)", 10, "dbcs", 0),
        ("10,2", 10, "digits", 2),
        ("S9(7)V9(2)", 9, "digits", 2),
    ],
)
def test_length_forms(text: str, count: int, unit: str | None, scale: int) -> None:
    got = parse_length(text)
    assert got is not None and (got.count, got.unit, got.scale) == (count, unit, scale)


def test_derived_ids_are_identifiers() -> None:
    assert derive_id("0010001") == "d0010001"
    assert derive_id("A-01.2") == "A_01_2"
    assert derive_id("ＡＢ１") == "AB1"


def official_like_workbook(path: Path) -> None:
    """A 基本データリスト-like workbook: title and notes above, merged header cells, 項番, full-width 桁数,
    a group heading row, blank rows and a note below, データ項目ID that are not identifiers, two sheets."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "住民"
    ws.append(["基本データリスト（住民基本台帳）"])
    ws.merge_cells("A1:H1")
    ws.append(["業務名", "住民基本台帳"])
    ws.append(["※ この表は試験用の架空のもの"])
    ws.append(["ファイルID", "jumin", "", "キー", "0010001"])
    ws.append([])
    ws.append(
        [
            "項番",
            "データ項目ID",
            "データ項目名",
            "データ型",
            "桁数",
            "",
            "データ出力条件",
            "備考",
            "コード一覧",
        ]
    )
    ws.merge_cells("E6:F6")
    ws.append(["", "", "【基本情報】"])
    ws.append([1, "0010001", "宛名番号", "数字", "１５", "", "必須", ""])
    ws.append([2, "0010002", "氏名", "文字", "５０", "", "必須", "全角"])
    ws.append([3, "0010003", "生年月日", "日付", "８", "", "条件付き必須", ""])
    ws.append([4, "0010004", "性別", "コード", "1", "", "必須", "", "seibetsu"])
    ws.append([])
    ws.append(["", "", "【異動】"])
    ws.append([5, "0010005", "異動金額", "数値", "10,2", "", "任意", ""])
    ws.append([])
    ws.append(["注）条件付き必須は生年月日不詳フラグにより判断する。"])
    ws2 = wb.create_sheet("世帯")
    ws2.append(["ファイルID：setai"])
    ws2.append(["項番", "データ項目ID", "データ項目名", "データ型", "桁数", "データ出力条件"])
    ws2.append([1, "0020001", "世帯番号", "数字", "１５", "必須"])
    ws3 = wb.create_sheet("コード一覧")
    ws3.append(["コード表", "コード表ID", "コード表名称", "桁数", "ファイル", "コード", "名称"])
    ws3.append(["seibetsu", "seibetsu", "性別", 1, "", "1", "男"])
    ws3.append(["seibetsu", "seibetsu", "性別", 1, "", "2", "女"])
    wb.save(path)


def test_an_official_like_workbook_imports(tmp_path: Path) -> None:
    book = tmp_path / "001_住民基本台帳_基本データリスト.xlsx"
    official_like_workbook(book)
    args = ["--family", "kihon", "--gyomu", "juki", "--version", "9.1", "--encoding", "utf-8"]
    res = _run(
        "layouts", "import", str(book), "--as", "standard", "--out", str(tmp_path / "l"), *args, "--json"
    )
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    report = json.loads(res.output)  # type: ignore[attr-defined]
    assert report["skipped"] == {"blank": 2, "group": 2, "note": 1}
    assert report["conditional_required"] == 1 and report["items"] == 6
    lay = load_layout(tmp_path / "l" / "kihon" / "juki" / "9.1.yaml")
    jumin = lay.file("jumin")
    assert jumin.key == ("d0010001",) and lay.file("setai").item_ids == ["d0020001"]
    first = jumin.item("d0010001")
    assert (first.source_id, first.type, first.unit, first.length, first.required) == (
        "0010001",
        "string",
        "digits",
        15,
        True,
    )
    assert (jumin.item("d0010002").unit, jumin.item("d0010002").length) == ("chars", 50)
    assert jumin.item("d0010003").required is False and "条件付き必須" in jumin.item("d0010003").note
    assert (jumin.item("d0010005").type, jumin.item("d0010005").scale) == ("number", 2)
    assert lay.code_tables["seibetsu"].codes == {"1": "男", "2": "女"}
    assert lay.gyomu_name == "住民基本台帳"


@pytest.mark.parametrize(
    ("cell", "value", "where"),
    [
        ("E9", "十五", "sheet 住民, row 9, column E (桁数)"),
        ("D9", "謎", "sheet 住民, row 9, column D (データ型)"),
        ("G9", "たぶん", "sheet 住民, row 9, column G (データ出力条件)"),
        ("C9", "氏\n名", "sheet 住民, row 9, column C (データ項目名)"),  # a line break typed in the cell
    ],
)
def test_an_uninterpretable_cell_is_exit_2_naming_sheet_row_column(
    tmp_path: Path, cell: str, value: str, where: str
) -> None:
    book = tmp_path / "b.xlsx"
    official_like_workbook(book)
    wb = openpyxl.load_workbook(book)
    wb["住民"][cell] = value
    wb.save(book)
    args = ["--family", "kihon", "--gyomu", "juki", "--version", "9.1", "--encoding", "utf-8"]
    res = runner.invoke(
        app, ["layouts", "import", str(book), "--as", "standard", "--out", str(tmp_path / "l"), *args]
    )
    assert res.exit_code == 2
    assert where in res.stderr.replace("\n", "")
    assert not (tmp_path / "l").exists()


def test_columns_file_maps_unknown_headers(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("名前,種別,大きさ\n宛名番号,数字,15\n", encoding="utf-8")
    cols = tmp_path / "c.yaml"
    cols.write_text("名前: name\n種別: type\n大きさ: length\n", encoding="utf-8")
    args = ["--family", "x", "--gyomu", "y", "--version", "1", "--encoding", "cp932"]
    res = _run(
        "layouts",
        "import",
        str(sheet),
        "--as",
        "standard",
        "--out",
        str(tmp_path / "o.yaml"),
        "--columns",
        str(cols),
        *args,
    )
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    lay = load_layout(tmp_path / "o.yaml")
    assert lay.files[0].items[0].name == "宛名番号"
    res = runner.invoke(
        app, ["layouts", "import", str(sheet), "--as", "standard", "--out", str(tmp_path / "p.yaml"), *args]
    )
    assert res.exit_code == 2 and "no sheet has an item table" in res.stderr.replace("\n", "")


def test_an_imported_workbook_layout_checks_a_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "book.xlsx"
    official_like_workbook(book)
    args = ["--family", "kihon", "--gyomu", "juki", "--version", "9.1", "--encoding", "utf-8"]
    res = _run("layouts", "import", str(book), "--as", "standard", "--out", str(tmp_path / "l"), *args)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "l"))
    delivery = tmp_path / "jumin.csv"
    delivery.write_text(
        "宛名番号,氏名,生年月日,性別,異動金額\n"
        "000000000000001,山田　太郎,19800101,1,1234.50\n"
        "000000000000002,髙橋　花子,,3,\n"
        "000000000000003,佐藤　一郎,19900101,2,1.234\n",  # three decimals where the layout has two
        encoding="utf-8",
    )
    res = runner.invoke(app, ["validate", "--layout", "kihon/juki@9.1", str(delivery), "--json"])
    assert res.exit_code == 1, res.output
    manifest = json.loads(res.stdout)
    assert manifest["inputs"][0]["records_written"] == 1 and manifest["inputs"][0]["records_rejected"] == 2


def _bad_inputs(tmp: Path) -> None:
    (tmp / "x.txt").write_text("x", encoding="utf-8")
    (tmp / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp / "R.cpy").write_text("       01  R.\n           05  A PIC X.\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ("layouts", "import", "{t}/missing.xlsx", "--as", "standard", "--out", "{t}/o"),
            ("missing.xlsx", "not found"),
        ),
        (("layouts", "import", "{t}/x.txt", "--as", "standard", "--out", "{t}/o"), (".xlsx or .csv",)),
        (
            ("layouts", "import", "{t}/broken.xlsx", "--as", "standard", "--out", "{t}/o"),
            ("not a readable xlsx",),
        ),
        (("layouts", "import", "{t}/R.cpy", "--as", "source", "--out", "{t}/o"), ("--encoding",)),
        (("layouts", "import", "{t}/R.cpy", "--as", "nonsense", "--out", "{t}/o"), ("--as",)),
        (("layouts", "export", "chukan/juki@9.9", "--out", "{t}/x.xlsx"), ("unknown layout",)),
        (("layouts", "export", "chukan/juki@2.5", "--format", "pdf", "--out", "{t}/x"), ("xlsx or csv",)),
        (("layouts", "diff", "chukan/juki@2.5", "chukan/juki@9.9"), ("unknown layout",)),
        (("mapping", "check", "{t}/nope.yaml", "--layout", "chukan/juki@2.5"), ("nope.yaml", "not found")),
    ],
)
def test_bad_input_to_the_definition_commands_is_one_line_exit_2(
    tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    _bad_inputs(tmp_path)
    res = runner.invoke(app, [a.format(t=tmp_path) for a in args])
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr, res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_two_row_header_with_integer_and_decimal_parts(tmp_path: Path) -> None:
    """桁数 merged over 整数部 | 小数部, the other headers merged down two rows (a common 中間標準 sheet shape)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "課税"
    ws.append(["項番", "項目名称", "型", "桁数", "", "必須"])
    ws.append(["", "", "", "整数部", "小数部", ""])
    for rng in ("A1:A2", "B1:B2", "C1:C2", "D1:E1", "F1:F2"):
        ws.merge_cells(rng)
    ws.append([1, "宛名番号", "数字", "15", "", "○"])
    ws.append([2, "税率", "数値", "3", "2", ""])
    ws.append([3, "税額", "数値", "12", "0", "○"])
    book = tmp_path / "b.xlsx"
    wb.save(book)
    args = ["--family", "x", "--gyomu", "zei", "--version", "1", "--encoding", "cp932", "--json"]
    res = _run("layouts", "import", str(book), "--as", "standard", "--out", str(tmp_path / "o.yaml"), *args)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert json.loads(res.output)["skipped"] == {"header": 1}  # type: ignore[attr-defined]
    items = load_layout(tmp_path / "o.yaml").files[0].items
    assert [(it.type, it.length, it.scale, it.required) for it in items] == [
        ("string", 15, 0, True),
        ("number", 5, 2, False),
        ("number", 12, 0, True),
    ]


def test_export_to_a_place_it_cannot_write_is_exit_2_naming_it(tmp_path: Path) -> None:
    """A folder given as the workbook, or a path under a file, is the user's --out: exit 2, not an internal error."""
    folder = tmp_path / "d"
    folder.mkdir()
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    for out in (folder, a_file / "x.xlsx"):
        result = runner.invoke(app, ["layouts", "export", "chukan/juki@2.5", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "internal error" not in result.output
    assert not (tmp_path / ".d.tmp").exists()


def test_export_of_a_bundled_layout_imports_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --layouts-dir the layout comes from the package (a symlink in a checkout): its code tables'
    ファイル column stays inside the layout folder, so the workbook imports again."""
    monkeypatch.delenv("MIDLAYOUT_LAYOUTS")  # the package's own layouts, as a user without a layouts folder
    out = tmp_path / "book.xlsx"
    assert _run("layouts", "export", "chukan/juki@2.5", "--out", str(out)).exit_code == 0  # type: ignore[attr-defined]
    res = _run("layouts", "import", str(out), "--as", "standard", "--out", str(tmp_path / "tree"))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    back = load_layout(tmp_path / "tree" / "chukan" / "juki" / "2.5.yaml")
    assert comparable(back) == comparable(load_layout(LAYOUTS / "chukan" / "juki" / "2.5.yaml"))
