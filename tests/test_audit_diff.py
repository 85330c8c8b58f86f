"""`diff` reports exactly the known additions, removals, changes and duplicate keys, across input formats."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.audit.diff import DiffOptions, diff
from midlayout.audit.inputs import Normalise, locate
from midlayout.cli import app
from midlayout.layout.registry import resolve
from tests.audit_data import atena, jumin, kazei_pair, set_value, write

ZEI = "chukan/kojin_juminzei@2.5"
JUKI = "chukan/juki@2.5"
runner = CliRunner()


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[str, str]:
    before, after = kazei_pair()
    return write(ZEI, "kazei", before, tmp_path / "b", "standard"), write(
        ZEI, "kazei", after, tmp_path / "a", "parquet"
    )


def _run(before: str, after: str, **opts: object) -> dict:
    lay = resolve(ZEI)
    return diff(locate(before, lay), locate(after, lay), DiffOptions(**opts)).summary  # type: ignore[arg-type]


def test_known_pair_counts_every_class(pair: tuple[str, str]) -> None:
    s = _run(*pair)
    assert s["counts"] == {"unchanged": 13, "changed": 4, "added": 3, "removed": 2, "duplicate_key": 1}
    assert s["duplicates"] == {"keys": 1, "rows_before": 1, "rows_after": 2}
    assert {c["item"]: c["count"] for c in s["changes_by_item"]} == {
        "kazei_kubun": 1,
        "kintowari": 1,
        "zeigaku": 2,
    }
    assert s["before"]["kind"] == "csv" and s["after"]["kind"] == "parquet" and s["after"]["rows"] == 22
    assert not s["identical"]


def test_tolerance_absorbs_a_one_yen_difference(pair: tuple[str, str]) -> None:
    s = _run(*pair, tolerance=1.0)
    assert s["counts"]["changed"] == 3 and s["counts"]["unchanged"] == 14
    assert "kintowari" not in {c["item"] for c in s["changes_by_item"]}


def test_ignore_and_key_options(pair: tuple[str, str]) -> None:
    s = _run(*pair, ignore=("zeigaku", "kintowari"))
    assert s["counts"]["changed"] == 1
    with pytest.raises(Exception, match="unknown item"):
        _run(*pair, key=("nope",))


def test_values_are_masked_unless_asked(pair: tuple[str, str], tmp_path: Path) -> None:
    lay = resolve(ZEI)
    masked = diff(locate(pair[0], lay), locate(pair[1], lay), DiffOptions(), tmp_path / "m").summary
    shown = diff(
        locate(pair[0], lay), locate(pair[1], lay), DiffOptions(show_values=True), tmp_path / "s"
    ).summary
    zei = [c for c in shown["samples"]["changes"] if c["item"] == "zeigaku"]
    assert [(c["atena_no"], int(c["new"]) - int(c["old"])) for c in zei] == [(atena(5), 100), (atena(6), 100)]
    assert {c["old"] for c in masked["samples"]["changes"]} == {"●●●"}
    details = pl.read_parquet(tmp_path / "m" / "diff-changes.parquet")
    assert details.height == 4 and set(details["new"]) == {"●●●"}
    assert str(zei[0]["new"]) not in (tmp_path / "m" / "diff-summary.json").read_text(encoding="utf-8")
    rows = pl.read_parquet(tmp_path / "s" / "diff-rows.parquet")
    assert rows.group_by("class").len().sort("class").rows() == [
        ("added", 3),
        ("changed", 4),
        ("duplicate_key", 1),
        ("removed", 2),
    ]


def test_identical_files_in_three_formats(tmp_path: Path) -> None:
    frame = jumin(range(1, 30))
    csv = write(JUKI, "jumin", frame, tmp_path / "c", "standard")
    db = write(JUKI, "jumin", frame, tmp_path / "d", "duckdb")
    pq = write(JUKI, "jumin", frame, tmp_path / "p", "parquet")
    lay = resolve(JUKI)
    for a, b in ((csv, db), (db, pq), (csv, pq)):
        s = diff(locate(a, lay), locate(b, lay), DiffOptions()).summary
        assert s["identical"] and s["counts"]["unchanged"] == 29, (a, b)


def test_width_and_trailing_space_folding_is_opt_in(tmp_path: Path) -> None:
    before = jumin(range(1, 6))
    after = set_value(before, 2, "shimei", "試験　太郎2　 ")
    after = set_value(after, 3, "katagaki", "ABC3号")
    after = set_value(after, 4, "shimei_kana", "ｼｹﾝ　ﾀﾛｳ4")
    a, b = write(JUKI, "jumin", before, tmp_path / "b"), write(JUKI, "jumin", after, tmp_path / "a")
    lay = resolve(JUKI)
    plain = diff(locate(a, lay), locate(b, lay), DiffOptions()).summary
    folded = diff(locate(a, lay), locate(b, lay), DiffOptions(norm=Normalise(True, True))).summary
    assert plain["counts"]["changed"] == 3 and folded["identical"]
    only_spaces = diff(
        locate(a, lay), locate(b, lay), DiffOptions(norm=Normalise(trailing_spaces=True))
    ).summary
    assert {c["item"] for c in only_spaces["changes_by_item"]} == {"katagaki", "shimei_kana"}


def test_cli_exit_codes_json_and_files(pair: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["diff", *pair, "-l", ZEI, "--out", str(out), "--html", "--format", "csv", "--json"]
    )
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert data["counts"] == _run(*pair)["counts"]
    assert {p.name for p in out.iterdir()} == {
        "diff-rows.csv",
        "diff-changes.csv",
        "diff-summary.json",
        "diff.html",
    }
    same = runner.invoke(app, ["diff", pair[0], pair[0], "-l", ZEI])
    assert same.exit_code == 0 and "identical" in same.stdout
    dup_only = runner.invoke(app, ["diff", pair[1], pair[1], "-l", ZEI, "--json"])
    assert dup_only.exit_code == 1 and json.loads(dup_only.stdout)["counts"]["duplicate_key"] == 1


def test_bad_input_is_one_line_exit_2(pair: tuple[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "kazei.csv"
    bad.write_bytes(Path(pair[0]).read_bytes().replace(b'\r\n"2024",', b'\r\n"20x4",', 1))
    res = runner.invoke(app, ["diff", str(bad), pair[1], "-l", ZEI])
    assert res.exit_code == 2
    assert "record 1" in res.stderr and "課税年度" in res.stderr and "Traceback" not in res.output
    other = runner.invoke(app, ["diff", str(tmp_path / "missing.parquet"), pair[1], "-l", ZEI])
    assert other.exit_code == 2 and "missing.parquet: file not found" in other.stderr
    wrong = runner.invoke(app, ["diff", pair[0], pair[1], "-l", JUKI])
    assert wrong.exit_code == 2 and "match no file" in wrong.stderr
