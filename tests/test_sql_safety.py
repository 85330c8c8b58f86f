"""No SQL from a path, a name or a value: hostile folder names, item names and rule messages go through every
SQL-building site (staging, lookups, cross-file rules, DuckDB writer, diff, reconcile, audit inputs) and come
out exactly as written, with no side effect."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import LAYOUTS, MAPPINGS, SAMPLES

runner = CliRunner()
# A quote of each kind, a statement separator, a comment, a newline and non-ASCII in one name.
HOSTILE = 'o\'x "q"; -- 住\n所'
ITEM_NAME = "世帯主'宛名\"; --番号"
CHECK_MESSAGE = '世帯主\'; DROP TABLE r0; --"x"\n続柄'


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("text", [HOSTILE, "'; SELECT 1; --", '"', "", "a''b", "\\'", "🍣\t\r\n"])
def test_quoting_round_trips_through_duckdb(text: str) -> None:
    from midlayout import sql

    with duckdb.connect() as con:
        assert con.execute(f"SELECT {sql.literal(text)}").fetchone() == (text,)
        con.execute(f"CREATE TABLE {sql.ident(text or 'x')} ({sql.ident(text + 'c')} VARCHAR)")
        assert con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall() == [
            (text or "x", text + "c")
        ]
        assert con.execute(f"SELECT {sql.literal_list([text, text])}").fetchone() == ([text, text],)


def test_numbers_that_sql_cannot_write_are_refused() -> None:
    from midlayout import sql

    assert sql.number(0.5) == "0.5" and sql.number(3) == "3"
    for bad in (float("inf"), float("nan"), -float("inf"), True):
        with pytest.raises(ValueError):
            sql.number(bad)
    with pytest.raises(ValueError):
        sql.literal("a\x00b")


def test_out_folder_with_a_quote_works_with_vendor_a_lookup(tmp_path: Path) -> None:
    """Vendor A's mapping stages a lookup table: its spill folder and output path reached DuckDB unescaped."""
    out = tmp_path / "o'x"
    code, _, err = cli(
        "convert",
        "-m",
        str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"),
        str(SAMPLES / "vendor_a" / "JUMIN.DAT"),
        str(SAMPLES / "vendor_a" / "SETAI.DAT"),
        "--out",
        str(out),
        "--json",
    )
    assert code == 1, err  # the samples hold deliberate rejects
    assert pl.read_parquet(out / "parquet" / "juki" / "jumin.parquet").height > 0


def test_job_out_cannot_inject_a_copy_statement(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    job = tmp_path / "job.yaml"
    out = f"x'; COPY (SELECT 1) TO '{pwned}'; --"
    job.write_text(
        json.dumps(
            {
                "job": {"id": "hostile", "out": out},
                "entries": [
                    {
                        "id": "a",
                        "mappings": [str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")],
                        "inputs": [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT")],
                        "writers": {"parquet": {}, "duckdb": {}},
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    code, _, err = cli("run", str(job), "--json")
    assert not pwned.exists()
    assert code == 1, err
    assert (tmp_path / out / "a" / "midlayout.duckdb").is_file()


def _hostile_definitions(tmp_path: Path) -> Path:
    """A copy of chukan/juki@2.5 as hostile/juki@2.5 whose 項目名称 and rule message are hostile, and a copy
    of vendor A's 住基 mapping aimed at it; returns the mapping."""
    layouts = tmp_path / "layouts" / "hostile" / "juki"
    layouts.mkdir(parents=True)
    (layouts / "codes").symlink_to(LAYOUTS / "chukan" / "juki" / "codes")
    text = (LAYOUTS / "chukan" / "juki" / "2.5.yaml").read_text(encoding="utf-8")
    for old, new in (
        ("family: chukan", "family: hostile"),
        ("name: 世帯主宛名番号,", f"name: {json.dumps(ITEM_NAME, ensure_ascii=False)},"),
        ("message: 世帯主（続柄02）が世帯に一人ではない", f"message: {json.dumps(CHECK_MESSAGE)}"),
    ):
        assert old in text
        text = text.replace(old, new)
    (layouts / "2.5.yaml").write_text(text, encoding="utf-8")
    maps = tmp_path / "maps"
    shutil.copytree(MAPPINGS / "vendor_a", maps)
    mapping = maps / "juki-2.5.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace("chukan/juki@2.5", "hostile/juki@2.5"), encoding="utf-8"
    )
    return mapping


@pytest.mark.slow
def test_hostile_paths_and_names_round_trip_through_every_sql_site(tmp_path: Path) -> None:
    mapping = _hostile_definitions(tmp_path)
    layouts = ["--layouts-dir", str(tmp_path / "layouts")]
    inputs = tmp_path / HOSTILE / "in"
    inputs.mkdir(parents=True)
    for name in ("JUMIN.DAT", "SETAI.DAT"):
        shutil.copy(SAMPLES / "vendor_a" / name, inputs / name)
    out, plain = tmp_path / HOSTILE / "out", tmp_path / "plain"
    run = ["convert", str(inputs / "JUMIN.DAT"), str(inputs / "SETAI.DAT"), "--json"]
    code, _, err = cli(*run, "-m", str(mapping), "--out", str(out), *layouts)
    assert code == 1, err
    code, _, err = cli(*run, "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), "--out", str(plain))
    assert code == 1, err

    # Staging, lookups and writers: the same rows as a run into a plain folder with the plain layout.
    for f in ("jumin", "setai"):
        got = pl.read_parquet(out / "parquet" / "juki" / f"{f}.parquet")
        assert got.equals(pl.read_parquet(plain / "parquet" / "juki" / f"{f}.parquet")), f
    # The DuckDB writer: the 項目名称 is the column comment, exactly.
    with duckdb.connect(str(out / "midlayout.duckdb"), read_only=True) as con:
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'setai' AND column_name = ?",
            ["setainushi_atena_no"],
        ).fetchone()
    assert comment == (ITEM_NAME,)
    # Cross-file rules: the layout's message and item name come back as written, in the rejects.
    messages = set(pl.read_parquet(out / "rejects.parquet")["message"])
    assert f"{CHECK_MESSAGE}: 2件" in messages
    assert any(m.startswith(f"{ITEM_NAME} has no match in") for m in messages)

    # diff and audit inputs: standard CSV, Parquet and a DuckDB table, all in the hostile folder.
    setai = pl.read_parquet(plain / "parquet" / "juki" / "setai.parquet")
    changed = tmp_path / HOSTILE / "changed.parquet"
    setai.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("999999999999999"))
        .otherwise(pl.col("setainushi_atena_no"))
        .alias("setainushi_atena_no")
    ).write_parquet(changed)
    diff_out = tmp_path / HOSTILE / "diff"
    base = ["-l", "hostile/juki@2.5", *layouts, "--json"]
    code, stdout, err = cli(
        "diff", str(out / "standard" / "juki" / "setai.csv"), str(changed), *base, "--out", str(diff_out)
    )
    assert code == 1, err
    summary = json.loads(stdout)
    assert summary["changes_by_item"] == [{"item": "setainushi_atena_no", "name": ITEM_NAME, "count": 1}]
    assert [c["item_name"] for c in summary["samples"]["changes"]] == [ITEM_NAME]
    assert pl.read_parquet(diff_out / "diff-changes.parquet")["item_name"].to_list() == [ITEM_NAME]
    code, stdout, err = cli(
        "diff", str(plain / "parquet" / "juki" / "setai.parquet"), f"{out}/midlayout.duckdb:juki.setai", *base
    )
    assert code == 0 and json.loads(stdout)["identical"], err

    # reconcile: from the hostile run's manifest, and two deliveries (one in the hostile folder).
    code, stdout, err = cli("reconcile", str(out / "manifest.json"), *layouts, "--json")
    assert code == 0 and json.loads(stdout)["passed"], err
    code, stdout, err = cli("reconcile", str(out), str(plain), *base)
    assert code == 0 and json.loads(stdout)["passed"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["layouts", "maps", HOSTILE, "plain"])


def test_sql_quoting_is_written_once() -> None:
    """Only midlayout/sql.py doubles quotes for SQL (CSV quoting in synth and the standard writer is not SQL)."""
    src = Path(__file__).resolve().parents[1] / "src" / "midlayout"
    patterns = ('replace("\'", "\'\'")', "replace('\"', '\"\"')", "'{spill}'", "TO '{")
    allowed = {src / "sql.py", src / "synth" / "vendor_b.py", src / "writers" / "standard.py"}
    found = [
        f"{path.relative_to(src)}: {pattern}"
        for path in sorted(src.rglob("*.py"))
        if path not in allowed
        for pattern in patterns
        if pattern in path.read_text(encoding="utf-8")
    ]
    assert found == []
