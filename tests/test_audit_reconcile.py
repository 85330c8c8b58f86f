"""`reconcile` reports the known figures; `verify` catches a one-byte change; the certificate names every file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.audit.from_manifest import reconcile_run
from midlayout.audit.reconcile import Tolerances, certificate, delivery
from midlayout.audit.verify import verify
from midlayout.cli import app
from midlayout.layout.mapping import load_mapping
from midlayout.layout.registry import resolve
from midlayout.pipeline.convert import ConvertOptions, convert
from tests.audit_data import AMOUNT_ITEMS, jumin, kazei_pair, write
from tests.conftest import MAPPINGS

ZEI = "chukan/kojin_juminzei@2.5"
runner = CliRunner()


def _by(cert: dict, figure: str, item: str = "", value: str = "") -> dict:
    return next(c for c in cert["checks"] if (c["figure"], c["item"], c["value"]) == (figure, item, value))


@pytest.fixture()
def deliveries(tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, Path, Path]:
    before, after = kazei_pair()
    write(ZEI, "kazei", before, tmp_path / "before", "standard")
    write(ZEI, "kazei", after, tmp_path / "after", "duckdb")
    return before, after, tmp_path / "before", tmp_path / "after" / "midlayout.duckdb"


def test_two_deliveries_known_figures(deliveries: tuple[pl.DataFrame, pl.DataFrame, Path, Path]) -> None:
    before, after, left, right = deliveries
    lay = resolve(ZEI)
    cert = certificate(delivery(str(left), lay), delivery(str(right), lay), Tolerances())
    assert (_by(cert, "records")["left"], _by(cert, "records")["right"]) == (20, 22)
    assert (_by(cert, "persons", "atena_no")["left"], _by(cert, "persons", "atena_no")["right"]) == (20, 21)
    for item in AMOUNT_ITEMS:  # the expected totals come from polars, not from the DuckDB path under test
        check = _by(cert, "amount", item)
        assert (check["left"], check["right"]) == (before[item].sum(), after[item].sum()), item
        assert not check["passed"]
    kubun = _by(cert, "code", "kazei_kubun", "2")
    assert (kubun["left"], kubun["right"], kubun["passed"]) == (0, 1, False)
    assert _by(cert, "code", "choshu_kubun", "1")["left"] == 10
    assert not cert["passed"] and {f["path"] for f in cert["files"]} == {
        str(left / "standard" / "kojin_juminzei" / "kazei.csv"),
        str(right),
    }


def test_tolerances_and_identical_deliveries(tmp_path: Path, deliveries: tuple) -> None:
    before, _, left, _ = deliveries
    other = Path(write(ZEI, "kazei", before, tmp_path / "again", "parquet"))
    lay = resolve(ZEI)
    same = certificate(delivery(str(left), lay), delivery(str(other), lay), Tolerances())
    assert same["passed"] and same["failed"] == 0
    shifted = before.with_columns(
        pl.col("zeigaku") + pl.when(pl.col("atena_no").str.ends_with("7")).then(1).otherwise(0)
    )
    near = Path(write(ZEI, "kazei", shifted, tmp_path / "near", "parquet"))
    strict = certificate(delivery(str(left), lay), delivery(str(near), lay), Tolerances())
    assert _by(strict, "amount", "zeigaku")["difference"] == 2 and not strict["passed"]
    assert certificate(delivery(str(left), lay), delivery(str(near), lay), Tolerances(amount=2))["passed"]


def test_cli_certificate_files_and_exit_code(deliveries: tuple, tmp_path: Path) -> None:
    _, _, left, right = deliveries
    out = tmp_path / "cert"
    res = runner.invoke(app, ["reconcile", str(left), str(right), "-l", ZEI, "--out", str(out), "--json"])
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert json.loads((out / "reconcile.json").read_text(encoding="utf-8"))["checks"] == data["checks"]
    assert "移行データ照合証明書" in (out / "reconcile.html").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["reconcile", str(left), str(right), "-l", ZEI, "--tolerance", "money=1"])
    assert bad.exit_code == 2 and "kind must be one of" in bad.stderr


PERSON = (
    "住民コード,世帯コード,世帯内順位,氏名,フリガナ,旧氏,性別,生年月日,続柄,住民区分,状態,郵便番号,住所,方書\r\n"
    "{rows}"
)
HOUSEHOLD = "世帯コード,世帯主,郵便番号,住所\r\n{rows}"


def _vendor_b(folder: Path, n: int, bad_sex: int) -> list[str]:
    """B社 CSV extracts (synthetic): n persons, one household per person; person `bad_sex` has 性別 不明."""
    folder.mkdir()
    persons = "".join(
        f"{i:06d},9{i:05d},1,試験 花子{i},シケン ハナコ,,{'不明' if i == bad_sex else '男女'[i % 2]},"
        f"H1.0{i % 9 + 1}.1{i % 9},世帯主,日本人,住民,100-0001,東京都試験区{i},\r\n"
        for i in range(1, n + 1)
    )
    households = "".join(
        f"9{i:05d},{i:06d} 試験 花子{i},100-0001,東京都試験区{i}\r\n" for i in range(1, n + 1)
    )
    (folder / "person.csv").write_bytes(b"\xef\xbb\xbf" + PERSON.format(rows=persons).encode())
    (folder / "household.csv").write_bytes(b"\xef\xbb\xbf" + HOUSEHOLD.format(rows=households).encode())
    return [str(folder / "person.csv"), str(folder / "household.csv")]


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    mapping = load_mapping(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
    result = convert(
        [mapping],
        _vendor_b(tmp_path / "src", 12, bad_sex=5),
        tmp_path / "out",
        ConvertOptions(("parquet", "duckdb", "standard")),
    )
    assert result.rejected >= 1
    return tmp_path / "out" / "manifest.json"


def test_convert_run_reconciles_against_every_writer(run: Path) -> None:
    cert = reconcile_run(run, Tolerances())
    assert cert["passed"], [c for c in cert["checks"] if not c["passed"]]
    records = [c for c in cert["checks"] if c["figure"] == "records" and "jumin" in c["file"]]
    assert len(records) == 3 and {(c["left"], c["right"]) for c in records} == {(11, 11)}
    assert {c["right"] for c in cert["checks"] if c["figure"] == "records_read"} == {12}
    sex = [c for c in cert["checks"] if c["item"] == "seibetsu" and c["file"].endswith("[parquet]")]
    assert {c["value"]: c["left"] for c in sex} == {"1": 6, "2": 5}  # odd i is 女; person 5 was rejected
    roles = {f["side"] for f in cert["files"]}
    assert {"left: input", "left: mapping", "left: rejects", "left: manifest", "right: jumin"} <= roles


def test_tampered_output_fails_reconcile_and_verify(run: Path) -> None:
    assert all(c.status == "ok" for c in verify(run))
    parquet = run.parent / "parquet" / "juki" / "jumin.parquet"
    pl.read_parquet(parquet).head(10).write_parquet(parquet)
    cert = reconcile_run(run, Tolerances())
    failed = {(c["figure"], c["file"]) for c in cert["checks"] if not c["passed"]}
    assert ("records", "chukan/juki@2.5:jumin [parquet]") in failed
    assert all("[parquet]" in f for _, f in failed)
    assert [c.status for c in verify(run) if c.resolved == str(parquet)] == ["mismatch"]


def test_verify_catches_one_byte_and_missing_files(run: Path) -> None:
    csv = run.parent / "standard" / "juki" / "setai.csv"
    data = bytearray(csv.read_bytes())
    data[-3] ^= 0x01
    csv.write_bytes(bytes(data))
    (run.parent / "rejects.csv").unlink()
    res = runner.invoke(app, ["verify", str(run), "--json"])
    assert res.exit_code == 1
    bad = {f["resolved"]: f["status"] for f in json.loads(res.stdout)["files"] if f["status"] != "ok"}
    assert bad == {str(csv): "mismatch", str(run.parent / "rejects.csv"): "missing"}
    text = runner.invoke(app, ["verify", str(run)])
    assert "mismatch" in text.stdout and text.exit_code == 1


def test_verify_usage_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["verify", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "manifest not found" in missing.stderr
    (tmp_path / "m.json").write_text("{}")
    assert "not a midlayout manifest" in runner.invoke(app, ["verify", str(tmp_path / "m.json")]).stderr


def test_intact_run_verifies(run: Path) -> None:
    res = runner.invoke(app, ["verify", str(run)])
    assert res.exit_code == 0 and "files match" in res.stdout


def test_reconcile_jumin_codes_between_deliveries(tmp_path: Path) -> None:
    frame = jumin(range(1, 13))
    a = write("chukan/juki@2.5", "jumin", frame, tmp_path / "a", "standard")
    changed = frame.with_columns(
        pl.when(pl.col("atena_no").str.ends_with("03"))
        .then(pl.lit("12"))
        .otherwise(pl.col("zokugara"))
        .alias("zokugara")
    )
    b = write("chukan/juki@2.5", "jumin", changed, tmp_path / "b", "parquet")
    lay = resolve("chukan/juki@2.5")
    cert = certificate(delivery(a, lay), delivery(b, lay), Tolerances())
    zoku = {c["value"]: (c["left"], c["right"]) for c in cert["checks"] if c["item"] == "zokugara"}
    assert zoku == {"02": (4, 3), "12": (0, 1), "20": (8, 8)}
    assert _by(cert, "persons", "atena_no")["passed"]


def test_audit_reads_a_standard_number_as_validate_does(tmp_path: Path) -> None:
    """Measured on 2924ff0: `validate` read the number "12\u3000" as 12, while audit's own cast of a standard
    CSV refused it (exit 2, "value is not a valid number"). Both now read it through the identity mapping."""
    header = '"課税年度","宛名番号","課税区分","徴収区分","給与収入金額","総所得金額","所得控除合計額","課税標準額","市町村民税所得割額","道府県民税所得割額","均等割額","税額合計"'
    row = (
        '"2024","0000100001","1","2","4570000","3199000","1446000","1753000","105180","70120","5000","{tax}"'
    )
    plain, padded = tmp_path / "a" / "kazei.csv", tmp_path / "b" / "kazei.csv"
    for path, tax in ((plain, "12"), (padded, "12\u3000")):
        path.parent.mkdir()
        path.write_bytes(f"{header}\r\n{row.format(tax=tax)}\r\n".encode("cp932"))
    checked = CliRunner().invoke(
        app, ["validate", str(padded), "--layout", "chukan/kojin_juminzei@2.5", "--out", str(tmp_path / "v")]
    )
    assert checked.exit_code == 0, checked.output
    assert pl.read_parquet(tmp_path / "v" / "rejects.parquet").height == 0
    cert = CliRunner().invoke(
        app,
        ["reconcile", str(plain), str(padded), "--layout", "chukan/kojin_juminzei@2.5",
         "--out", str(tmp_path / "r"), "--json"],
    )  # fmt: skip
    assert cert.exit_code == 0, cert.output
    totals = {
        c["item"]: (c["left"], c["right"])
        for c in json.loads(cert.stdout)["checks"]
        if c["figure"] == "amount"
    }
    assert totals["zeigaku"] == (12, 12)
