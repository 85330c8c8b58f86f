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
