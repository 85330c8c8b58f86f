"""`midlayout inspect`: encoding confirmed by a strict decode, record length, CSV dialect, masked preview,
and a draft source layout that loads and reads the file it came from."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.layout.source import load_source
from midlayout.readers import read_batches
from midlayout.readers.inspect import inspect_file, mask
from midlayout.text import ebcdic
from tests.conftest import fixed_record

NAMES = ["山田 太郎", "髙﨑ｶﾞｯｺｳ", "表ソ能ポ"]


def _records(n: int = 30) -> list[bytes]:
    return [
        fixed_record([(f"{i:04d}", 4), (NAMES[i % 3], 20), ("19890107", 8), ("東京都千代田区", 28)], 60)
        for i in range(n)
    ]


def test_fixed_crlf_file(tmp_path: Path) -> None:
    path = tmp_path / "JUMIN.DAT"
    path.write_bytes(b"".join(r + b"\r\n" for r in _records()))
    info = inspect_file(path)
    assert info.confirmed == "cp932" and info.kind == "fixed" and info.bom is None
    assert info.line_endings == {"crlf": 30, "lf": 0, "cr": 0}
    assert info.fixed is not None and (
        info.fixed["record_length"],
        info.fixed["terminator"],
        info.fixed["records"],
    ) == (60, "crlf", 30)
    assert not any(ch in "".join(info.preview) for ch in "山田太郎髙﨑表東京0123")  # masked
    assert info.preview[0].startswith("9999ＸＸ ＸＸ")


def test_fixed_without_newlines_finds_the_period(tmp_path: Path) -> None:
    path = tmp_path / "SETAI.DAT"
    path.write_bytes(b"".join(_records(24)))
    info = inspect_file(path)
    assert info.fixed is not None and (info.fixed["record_length"], info.fixed["terminator"]) == (60, "none")


def test_csv_with_bom_and_show_values(tmp_path: Path) -> None:
    path = tmp_path / "person.csv"
    path.write_bytes('\ufeffコード,氏名,住所\r\n1,山田,東京都\r\n2,"髙橋, 花子",大阪府\r\n'.encode())
    info = inspect_file(path, show_values=True)
    assert (info.bom, info.confirmed, info.kind) == ("utf-8", "utf-8-sig", "csv")
    assert info.csv == {"delimiter": ",", "quote": '"', "header": ["コード", "氏名", "住所"], "columns": 3}
    assert info.preview[2] == '2,"髙橋, 花子",大阪府'


def test_undecodable_file_is_a_finding_with_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.dat"
    path.write_bytes("山田".encode("cp932") + b"\x81\x20")
    res = CliRunner().invoke(app, ["inspect", str(path), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["encoding"]["confirmed"] is None
    assert {"encoding": "cp932", "ok": False, "byte": 4, "reason": "illegal multibyte sequence"} in data[
        "encoding"
    ]["tried"]
    assert data == inspect_file(path).to_dict()


@pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")
def test_ebcdic_file_is_recognised(tmp_path: Path) -> None:
    rec = b"\xf0\xf0\xf1\xf2" + b"\xc1\x0e\x45\x41\x42\xf1\x0f" + b"\x40" * 9
    path = tmp_path / "HOST.DAT"
    path.write_bytes(rec * 12)
    info = inspect_file(path)
    assert info.confirmed == "ibm930" and info.fixed is not None and info.fixed["record_length"] == 20


@pytest.mark.parametrize("kind", ["fixed", "csv"])
def test_draft_layout_loads_and_reads_its_file(tmp_path: Path, kind: str) -> None:
    if kind == "fixed":
        path = tmp_path / "JUMIN.DAT"
        path.write_bytes(b"".join(r + b"\r\n" for r in _records()))
    else:
        path = tmp_path / "p.csv"
        path.write_bytes("コード,氏名\r\n1,山田\r\n2,髙橋\r\n3,表ソ\r\n".encode("cp932"))
    out = tmp_path / "draft.yaml"
    res = CliRunner().invoke(app, ["inspect", str(path), "--draft-layout", str(out)])
    assert res.exit_code == 0, res.output
    assert "draft source layout written" in res.stderr
    source = load_source(out).files[0]
    batches = list(read_batches(source, path))
    rows = pl.concat([b.rows for b in batches])
    assert sum(b.rejects.height for b in batches) == 0 and rows.height == (30 if kind == "fixed" else 3)
    if kind == "fixed":  # fields tile the record and are cut only at character boundaries
        assert len(source.fields) > 1
        joined = rows.select(pl.concat_str([f.id for f in source.fields])).to_series().to_list()
        assert joined == [r.decode("cp932") for r in _records()]


def test_mask_keeps_widths_and_hides_values() -> None:
    assert mask("Ab12 山田ｶﾞ　１Ａ-") == "XX99 ＸＸｶｶ　９Ｘ-"


def test_docs_cover_the_new_options() -> None:
    """Docs that are never run drift: every option and op added here must be in the guide."""
    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "text-fidelity.md").read_text(encoding="utf-8")
    for word in (
        "--gaiji",
        "--gaiji-unmapped",
        "--draft-layout",
        "--show-values",
        "gaiji_ranges",
        "repertoire:",
        "zoned_ebcdic",
        "packed",
        "binary",
        "sjis",
        "ibm930",
        "wareki_partial",
        "to_wareki",
        "digits2",
        "letters",
        "gaiji-report.csv",
        "repertoire-report.csv",
        "code,replacement,mj,note",
    ):
        assert word in guide, word
    res = CliRunner().invoke(app, ["inspect", "--help"])
    assert res.exit_code == 0 and "--draft-layout" in res.stdout
