"""中間標準レイアウト deliveries → 基本データリスト files: mappings whose source is a standard layout, code
conversion, 条件付き必須 rules, and reconcile across the two layouts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli.app import app
from midlayout.layout.mapping import load_mapping
from midlayout.synth import generate_vendor_a
from tests.conftest import MAPPINGS

runner = CliRunner()
STD = MAPPINGS / "standard"


@pytest.fixture(scope="module")
def chukan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 中間標準 delivery (standard CSV in CP932), converted from synthetic A社 extracts."""
    tmp = tmp_path_factory.mktemp("s2s")
    files = generate_vendor_a(tmp / "a", 40, 11, workers=1)
    args = ["convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")]
    args += ["-m", str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"), *map(str, files.values())]
    res = runner.invoke(app, [*args, "--out", str(tmp / "chukan"), "-w", "standard"])
    assert res.exit_code in (0, 1), res.output
    return tmp / "chukan" / "standard"


def test_a_mapping_can_read_a_standard_layout(chukan: Path) -> None:
    m = load_mapping(STD / "juki-2.5-to-kihon-2.1.yaml")
    assert m.source.vendor == "standard" and m.target.ref == "kihon/juki@2.1"
    assert m.source.file("jumin").format == "csv" and m.source.file("jumin").encoding == "cp932"
    assert m.source.file("jumin").field("atena_no").column == "宛名番号"


def test_chukan_delivery_becomes_kihon_files_and_reconciles(chukan: Path, tmp_path: Path) -> None:
    out = tmp_path / "kihon"
    inputs = [
        chukan / "juki" / "jumin.csv",
        chukan / "juki" / "setai.csv",
        chukan / "kojin_juminzei" / "kazei.csv",
    ]
    args = [
        "convert",
        "-m",
        str(STD / "juki-2.5-to-kihon-2.1.yaml"),
        "-m",
        str(STD / "kojin_juminzei-2.5-to-kihon-2.1.yaml"),
    ]
    res = runner.invoke(app, [*args, *map(str, inputs), "--out", str(out), "-w", "parquet", "--json"])
    assert res.exit_code in (0, 1), res.output
    assert json.loads(res.stdout)["status"]
    jumin = pl.read_parquet(out / "parquet" / "juki" / "jumin.parquet")
    src = pl.read_csv(chukan / "juki" / "jumin.csv", encoding="cp932", infer_schema=False)
    # codes converted through the tables: 中間標準 続柄 02 (世帯主) is 001, 住民状態 1 (住民) is 0
    joined = jumin.join(src, left_on="d0010001", right_on="宛名番号")
    assert joined.height == jumin.height > 0
    heads = joined.filter(pl.col("続柄") == "02")
    assert heads.height and set(heads.get_column("d0010010")) == {"001"}
    assert set(joined.filter(pl.col("住民状態") == "1").get_column("d0010013")) == {"0"}
    assert jumin.schema["d0010007"] == pl.Date
    rejects = pl.read_parquet(out / "rejects.parquet")
    # 旧氏 without 旧氏フリガナ (A社 has no 旧氏カナ): the 条件付き必須 rule of kihon/juki rejects it, by rule id
    kyushi = src.filter(pl.col("旧氏").is_not_null() & pl.col("旧氏カナ").is_null()).height
    assert rejects.filter(pl.col("rule") == "kyushi_kana_with_kyushi").height == kyushi
    res = runner.invoke(app, ["reconcile", str(out / "manifest.json"), "--json"])
    cert = json.loads(res.stdout)
    assert res.exit_code == 0 and cert["passed"]
    kinds = {c["figure"] for c in cert["checks"]}
    assert {"records", "persons", "amount", "code"} <= kinds
    persons = [c for c in cert["checks"] if c["figure"] == "persons"]
    assert {c["item"] for c in persons} == {"d0010001", "d0300002"}


def test_gaiji_in_a_chukan_delivery_go_through_the_mappings_table(chukan: Path, tmp_path: Path) -> None:
    """CP932's user-defined area (F040…) in a 中間標準 delivery: mapped by the mapping's 外字 table, or rejected."""
    import shutil

    maps = tmp_path / "standard"
    shutil.copytree(STD, maps)
    path = maps / "juki-2.5-to-kihon-2.1.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "files:\n", "gaiji: {table: gaiji.csv, encoding: cp932}\nfiles:\n", 1
    )
    path.write_text(text, encoding="utf-8")
    (maps / "gaiji.csv").write_text(
        "code,replacement,mj,note\nF040,吉,MJ000001,synthetic\n", encoding="utf-8"
    )
    src = pl.read_csv(chukan / "juki" / "jumin.csv", encoding="cp932", infer_schema=False)
    names = src.get_column("氏名").to_list()
    names[0], names[1] = "\ue000田\u3000太郎", "\ue001川\u3000花子"  # F040 (in the table), F041 (not)
    jumin = tmp_path / "jumin.csv"
    jumin.write_bytes(src.with_columns(pl.Series("氏名", names)).write_csv().encode("cp932"))
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "convert",
            "-m",
            str(path),
            str(jumin),
            str(chukan / "juki" / "setai.csv"),
            "--out",
            str(out),
            "-w",
            "parquet",
        ],
    )
    assert res.exit_code == 1, res.output
    rows = pl.read_parquet(out / "parquet" / "juki" / "jumin.parquet")
    first = src.get_column("宛名番号")[0]
    assert rows.filter(pl.col("d0010001") == first).get_column("d0010003").to_list() == ["吉田\u3000太郎"]
    rejects = pl.read_parquet(out / "rejects.parquet")
    unmapped = rejects.filter(pl.col("rule") == "gaiji_unmapped")
    assert unmapped.select("record", "item", "field").rows() == [(2, None, "shimei")]
    assert unmapped.get_column("file")[0].endswith("jumin.csv")


@pytest.fixture(scope="module")
def kihon(chukan: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 基本データリスト files converted from the 中間標準 delivery (parquet)."""
    out = tmp_path_factory.mktemp("kihon") / "out"
    inputs = [
        chukan / "juki" / "jumin.csv",
        chukan / "juki" / "setai.csv",
        chukan / "kojin_juminzei" / "kazei.csv",
    ]
    args = [
        "convert",
        "-m",
        str(STD / "juki-2.5-to-kihon-2.1.yaml"),
        "-m",
        str(STD / "kojin_juminzei-2.5-to-kihon-2.1.yaml"),
    ]
    res = runner.invoke(app, [*args, *map(str, inputs), "--out", str(out), "-w", "parquet"])
    assert res.exit_code == 1, res.output  # the synthetic data holds 旧氏 without 旧氏フリガナ
    return out


MAPS = [
    "-m",
    str(STD / "juki-2.5-to-kihon-2.1.yaml"),
    "-m",
    str(STD / "kojin_juminzei-2.5-to-kihon-2.1.yaml"),
]


def test_two_deliveries_in_different_layouts_differ_by_what_was_rejected(chukan: Path, kihon: Path) -> None:
    res = runner.invoke(app, ["reconcile", str(chukan.parent), str(kihon), *MAPS, "--json"])
    assert res.exit_code == 1, res.output
    cert = json.loads(res.stdout)
    rejects = pl.read_parquet(kihon / "rejects.parquet").select("file", "record").unique()
    for check in (c for c in cert["checks"] if c["figure"] == "records"):
        src = {"kihon/juki@2.1:jumin": "jumin.csv", "kihon/juki@2.1:setai": "setai.csv"}.get(
            check["file"], "kazei.csv"
        )
        dropped = rejects.filter(pl.col("file").str.ends_with(src)).height
        assert check["left"] - check["right"] == dropped


def test_two_deliveries_in_different_layouts_certify_when_they_hold_the_same(
    chukan: Path, kihon: Path, tmp_path: Path
) -> None:
    """The 中間標準 delivery cut to the records the 基本データリスト holds: every figure matches through the mapping."""
    left = tmp_path / "left"
    left.mkdir()
    keep = {
        ("juki", "jumin", "宛名番号"): ("juki", "jumin", "d0010001"),
        ("juki", "setai", "世帯番号"): ("juki", "setai", "d0020001"),
        ("kojin_juminzei", "kazei", "宛名番号"): ("kojin_juminzei", "kazei", "d0300002"),
    }
    for (gyomu, file, col), (_, _, item) in keep.items():
        src = pl.read_csv(chukan / gyomu / f"{file}.csv", encoding="cp932", infer_schema=False)
        ids = pl.read_parquet(kihon / "parquet" / gyomu / f"{file}.parquet").get_column(item).implode()
        (left / f"{file}.csv").write_bytes(src.filter(pl.col(col).is_in(ids)).write_csv().encode("cp932"))
    res = runner.invoke(app, ["reconcile", str(left), str(kihon), *MAPS, "--json"])
    cert = json.loads(res.stdout)
    assert res.exit_code == 0 and cert["passed"], [c for c in cert["checks"] if not c["passed"]]
    assert {c["figure"] for c in cert["checks"]} == {"records", "persons", "amount", "code"}


def test_reconcile_through_a_vendor_mapping_is_refused(chukan: Path, kihon: Path) -> None:
    res = runner.invoke(
        app, ["reconcile", str(chukan.parent), str(kihon), "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")]
    )
    assert res.exit_code == 2 and "source is a standard" in res.stderr.replace("\n", "")
