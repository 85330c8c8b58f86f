"""The HTML reports are self-contained, escape everything, and render in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.audit.html import bar_chart, table
from midlayout.cli import app
from midlayout.rejects import REJECT_SCHEMA
from tests.audit_data import kazei_pair, write

ZEI = "chukan/kojin_juminzei@2.5"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
runner = CliRunner()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


def render(path: Path, tmp: Path) -> str:
    """The DOM after Chromium loaded the page, tags stripped: the text a reader sees."""
    args = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        "--dump-dom",
        path.resolve().as_uri(),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return re.sub(r"<[^>]+>", " ", done.stdout)


def _assert_offline(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html


def test_everything_is_escaped() -> None:
    cell = table(["<b>"], [["<script>alert(1)</script>"]])
    assert "<script>" not in cell and "&lt;script&gt;" in cell
    assert "&lt;x&gt;" in bar_chart("t", [("<x>", 3)])


@pytest.fixture()
def diff_html(tmp_path: Path) -> Path:
    before, after = kazei_pair()
    b = write(ZEI, "kazei", before, tmp_path / "b", "standard")
    a = write(ZEI, "kazei", after, tmp_path / "a", "parquet")
    res = runner.invoke(app, ["diff", b, a, "-l", ZEI, "--out", str(tmp_path / "out"), "--html"])
    assert res.exit_code == 1, res.output
    return tmp_path / "out" / "diff.html"


@needs_chromium
def test_diff_report_renders(diff_html: Path, tmp_path: Path) -> None:
    html = diff_html.read_text(encoding="utf-8")
    _assert_offline(html)
    text = render(diff_html, tmp_path)
    assert "差分レポート" in text and "税額合計" in text and "キー重複 (duplicate key)" in text
    assert re.search(r"追加 \(added\)\s+3", text) and re.search(r"削除 \(removed\)\s+2", text)
    assert "<svg" in html and "●●●" in text


@needs_chromium
def test_certificate_renders(tmp_path: Path) -> None:
    before, after = kazei_pair()
    write(ZEI, "kazei", before, tmp_path / "b", "parquet")
    write(ZEI, "kazei", after, tmp_path / "a", "parquet")
    res = runner.invoke(
        app, ["reconcile", str(tmp_path / "b"), str(tmp_path / "a"), "-l", ZEI, "--out", str(tmp_path / "c")]
    )
    assert res.exit_code == 1
    page = tmp_path / "c" / "reconcile.html"
    _assert_offline(page.read_text(encoding="utf-8"))
    text = render(page, tmp_path)
    assert "移行データ照合証明書" in text and "不一致 (FAIL)" in text and "署名" in text
    assert "人数 (distinct 宛名番号) 宛名番号" in text and "不合格 FAIL" in text


@needs_chromium
def test_rejects_report_renders_and_masks_messages(tmp_path: Path) -> None:
    rejects = pl.DataFrame(
        {
            "file": ["JUMIN.DAT"] * 3 + ["ZEI.DAT"],
            "record": [1, 2, 2, 7],
            "byte_offset": [0, 100, 130, 600],
            "record_offset": [0, 100, 100, 600],
            "stage": ["map", "validate", "validate", "validate"],
            "rule": ["invalid_wareki", "code_domain", "code_domain", "required"],
            "item": ["seinengappi", "seibetsu", "zokugara", "zeigaku"],
            "field": [None] * 4,
            "message": ["invalid 和暦 date: H99.13.45", "not a code", "not a code", "<b>missing</b>"],
            "raw": [b"x"] * 4,
        },
        schema=REJECT_SCHEMA,
    )
    rejects.write_parquet(tmp_path / "rejects.parquet")
    out = tmp_path / "rejects.html"
    res = runner.invoke(
        app,
        [
            "rejects-report",
            str(tmp_path / "rejects.parquet"),
            "--out",
            str(out),
            "-l",
            "chukan/juki@2.5",
            "-l",
            ZEI,
        ],
    )
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    _assert_offline(html)
    assert "H99.13.45" not in html and "<b>missing" not in html
    text = render(out, tmp_path)
    assert re.search(r"validate / code_domain\s+2", text) and "生年月日" in text and "税額合計" in text
    assert re.search(r"JUMIN\.DAT\s+3", text)
    shown = runner.invoke(
        app, ["rejects-report", str(tmp_path / "rejects.parquet"), "--out", str(out), "--show-values"]
    )
    assert shown.exit_code == 0 and "H99.13.45" in out.read_text(encoding="utf-8")


def test_rejects_report_bad_input(tmp_path: Path) -> None:
    pl.DataFrame({"x": [1]}).write_parquet(tmp_path / "x.parquet")
    res = runner.invoke(
        app, ["rejects-report", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "r.html")]
    )
    assert res.exit_code == 2 and "not a rejects file" in res.stderr
