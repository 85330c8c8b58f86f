"""The PostgreSQL writer against a real server: DDL, modes, idempotent reruns, faults, and no password leaks."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.errors import LoadError
from midlayout.layout.registry import resolve
from midlayout.writers.postgres import PostgresWriter
from tests.conftest import MAPPINGS
from tests.synth import vendor_a

A_MAPPINGS = ["-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), "-m", str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml")]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def load_a(pg: tuple[str, str], folder: Path, households: int = 4, seed: int = 1, *options: str, dsn: str | None = None) -> Any:
    """Convert synthetic A社 inputs straight into PostgreSQL through the CLI (--json)."""
    inputs = [str(p) for p in vendor_a(folder / "in", households, seed)]
    base, prefix = pg
    opts = [f"postgres.dsn={dsn or base}", f"postgres.schema_prefix={prefix}", f"postgres.meta_schema={prefix}meta"]
    args = ["convert", *A_MAPPINGS, *inputs, "--out", str(folder / "out"), "-w", "postgres", "--json"]
    for o in [*opts, *options]:
        args += ["-O", o]
    return cli(*args)


def query(dsn: str, text: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(text, params or []).fetchall()  # type: ignore[arg-type]


def snapshot(dsn: str, schema: str, table: str) -> tuple[Any, ...]:
    """Row count, content hash and the xmin of every row (unchanged xmins prove nothing was rewritten)."""
    stmt = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')), "
                   "string_agg(xmin::text, ',' ORDER BY ctid) FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(stmt).fetchone()  # type: ignore[return-value]


def all_tables(pg: tuple[str, str]) -> dict[str, tuple[Any, ...]]:
    dsn, prefix = pg
    names = [("juki", "setai"), ("juki", "jumin"), ("kojin_juminzei", "kazei")]
    return {f"{g}.{t}": snapshot(dsn, prefix + g, t) for g, t in names}


def loads(pg: tuple[str, str]) -> list[tuple[Any, ...]]:
    dsn, prefix = pg
    return query(dsn, f'SELECT load_id, schema_name, table_name, mode, rows FROM "{prefix}meta".midlayout_loads ORDER BY 2, 3, 1')


def test_ddl_comes_from_the_layout(pg: tuple[str, str], tmp_path: Path) -> None:
    result = load_a(pg, tmp_path, 3, 1, "postgres.mode=create")
    assert result.exit_code == 0, result.stderr
    dsn, prefix = pg
    cols = {c: (t, n) for c, t, n in query(dsn, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                                                      "WHERE table_schema = %s AND table_name = 'jumin'", [prefix + "juki"])}
    assert cols["atena_no"] == ("character varying", "NO") and cols["kyushi"] == ("character varying", "YES")
    assert cols["seinengappi"][0] == "date" and cols["seinengappi_fusho"][0] == "boolean" and cols["kisai_juni"][0] == "integer"
    assert query(dsn, "SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = %s "
                      "AND table_name = 'jumin' AND column_name = 'jusho'", [prefix + "juki"]) == [(120,)]
    cons = query(dsn, "SELECT conname, contype, condeferred FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 1",
                 [prefix + "juki"])
    assert cons == [("jumin_pkey", "p", False), ("jumin_setai_no_fkey", "f", True),
                    ("setai_pkey", "p", False), ("setai_setainushi_atena_no_fkey", "f", True)]
    assert query(dsn, "SELECT col_description(%s::regclass, 4)", [f"{prefix}juki.jumin"]) == [("氏名",)]
    # The 個人住民税 reference to 住民基本台帳 crosses 業務: no foreign key, and its key is composite.
    assert query(dsn, "SELECT count(*) FROM pg_constraint WHERE connamespace = %s::regnamespace AND contype = 'f'",
                 [prefix + "kojin_juminzei"]) == [(0,)]
    assert query(dsn, f'SELECT count(*) FROM "{prefix}juki".jumin') == [(sum(1 for _ in (tmp_path / "in" / "JUMIN.DAT").open("rb")),)]


def test_manifest_records_where_and_a_rerun_is_a_no_op(pg: tuple[str, str], tmp_path: Path) -> None:
    _dsn, prefix = pg
    first = load_a(pg, tmp_path, 4, 1, "postgres.mode=replace")
    assert first.exit_code == 0, first.stderr
    before, bookkeeping = all_tables(pg), loads(pg)
    out = [o for o in json.loads(first.stdout)["outputs"] if o["writer"] == "postgres"]
    jumin = next(o for o in out if o["target"] == "chukan/juki@2.5:jumin")
    d = jumin["details"]
    assert (d["host"], d["port"], d["dbname"], d["schema"], d["table"], d["mode"], d["status"]) == (
        "127.0.0.1", 5432, "test", prefix + "juki", "jumin", "replace", "applied")
    assert d["load_id"] == json.loads(first.stdout)["load_id"] and jumin["rows"] == before["juki.jumin"][0]
    assert len(bookkeeping) == 3 and {b[0] for b in bookkeeping} == {d["load_id"]}

    again = load_a(pg, tmp_path, 4, 1, "postgres.mode=replace")
    assert again.exit_code == 0, again.stderr
    assert all_tables(pg) == before and loads(pg) == bookkeeping
    statuses = {o["details"]["status"] for o in json.loads(again.stdout)["outputs"] if o["writer"] == "postgres"}
    assert statuses == {"already_applied"}


def test_modes_append_replace_upsert_create(pg: tuple[str, str], tmp_path: Path) -> None:
    dsn, prefix = pg
    assert load_a(pg, tmp_path / "1", 2, 1, "postgres.mode=create").exit_code == 0
    n2 = snapshot(dsn, prefix + "juki", "setai")[0]
    # create refuses a table in the way (exit 2), and changes nothing
    before = all_tables(pg)
    refused = load_a(pg, tmp_path / "2", 3, 1, "postgres.mode=create")
    assert refused.exit_code == 2 and "already exists (mode create)" in refused.stderr
    assert all_tables(pg) == before
    # upsert of 3 households with other names: 2 updated, 1 inserted
    assert load_a(pg, tmp_path / "3", 3, 7, "postgres.mode=upsert").exit_code == 0
    assert snapshot(dsn, prefix + "juki", "setai")[0] == 3 and n2 == 2
    names = {r[0] for r in query(dsn, f'SELECT setainushi_shimei FROM "{prefix}juki".setai')}
    assert names == {r[0] for r in query(dsn, f'SELECT shimei FROM "{prefix}juki".jumin WHERE zokugara = %s', ["02"])}
    # replace with 1 household: exactly its rows remain
    assert load_a(pg, tmp_path / "4", 1, 3, "postgres.mode=replace").exit_code == 0
    assert snapshot(dsn, prefix + "juki", "setai")[0] == 1
    assert [r[3] for r in loads(pg)].count("replace") == 3


def test_constraint_violation_leaves_target_unchanged_then_rerun_succeeds(pg: tuple[str, str], tmp_path: Path) -> None:
    dsn, prefix = pg
    assert load_a(pg, tmp_path / "1", 3, 1).exit_code == 0
    before, bookkeeping = all_tables(pg), loads(pg)
    # Other data, same 宛名番号: appending violates the primary key.
    failed = load_a(pg, tmp_path / "2", 4, 5, "postgres.mode=append")
    assert failed.exit_code == 1
    err = failed.stderr.strip()
    assert len(err.splitlines()) == 1 and "duplicate key value violates unique constraint" in err and "pkey" in err
    assert "SQLSTATE 23505" in err and "nothing was applied" in err and "000000000" not in err  # no key values
    assert all_tables(pg) == before and loads(pg) == bookkeeping
    assert not (tmp_path / "2" / "out" / "manifest.json").exists()
    # The failed load was not recorded, so the same inputs load once the mode fits the data.
    rerun = load_a(pg, tmp_path / "2", 4, 5, "postgres.mode=upsert")
    assert rerun.exit_code == 0, rerun.stderr
    assert snapshot(dsn, prefix + "juki", "setai")[0] == 4


def _big_kazei(n: int, start: int) -> pl.DataFrame:
    ids = pl.int_range(start, start + n, eager=True)
    amount = (ids % 1000 * 1000).cast(pl.Int64)
    return pl.DataFrame({
        "kazei_nendo": pl.Series([2024] * n, dtype=pl.Int64), "atena_no": ids.cast(pl.String).str.zfill(15),
        "kazei_kubun": ["1"] * n, "choshu_kubun": ["2"] * n, "kyuyo_shunyu": amount, "sogo_shotoku": amount,
        "shotoku_kojo": amount, "kazei_hyojun": amount, "shichoson_shotokuwari": amount, "todofuken_shotokuwari": amount,
        "kintowari": amount, "zeigaku": amount,
    })


def _writer(pg: tuple[str, str], tmp_path: Path, load_id: str) -> PostgresWriter:
    dsn, prefix = pg
    return PostgresWriter(tmp_path, {"dsn": dsn, "schema_prefix": prefix, "meta_schema": prefix + "meta"}, load_id)


def test_backend_killed_mid_copy_leaves_target_unchanged_then_rerun_succeeds(pg: tuple[str, str], tmp_path: Path) -> None:
    dsn, prefix = pg
    layout = resolve("chukan/kojin_juminzei@2.5")
    file = layout.file("kazei")
    first = _writer(pg, tmp_path, "load-small")
    first.start(layout, file)
    first.write(layout, file, _big_kazei(10, 1))
    first.prepare()
    first.commit()
    before = snapshot(dsn, prefix + "kojin_juminzei", "kazei")

    big = _big_kazei(600_000, 1000)
    victim = _writer(pg, tmp_path, "load-big")
    victim.start(layout, file)
    pid = victim.backend_pid
    failure: list[BaseException] = []

    def copy() -> None:
        try:
            victim.write(layout, file, big)
            victim.prepare()
            victim.commit()
        except BaseException as exc:  # noqa: BLE001 (the thread hands whatever it raised to the test)
            failure.append(exc)

    thread = threading.Thread(target=copy)
    thread.start()
    with psycopg.connect(dsn, autocommit=True) as killer:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = killer.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row and row[0] == "active" and row[1].startswith("COPY"):
                break
            time.sleep(0.002)
        else:
            pytest.fail("the loading backend never showed an active COPY")
        assert killer.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    thread.join(60)
    victim.abort()
    assert len(failure) == 1 and isinstance(failure[0], LoadError), failure
    assert "COPY into staging" in str(failure[0]) and "nothing was applied" in str(failure[0])
    assert snapshot(dsn, prefix + "kojin_juminzei", "kazei") == before
    assert [r[0] for r in loads(pg)] == ["load-small"]

    rerun = _writer(pg, tmp_path, "load-big")
    rerun.start(layout, file)
    rerun.write(layout, file, big)
    rerun.prepare()
    outputs = rerun.commit()
    assert outputs[0].rows == 600_000 and outputs[0].details["status"] == "applied"
    assert snapshot(dsn, prefix + "kojin_juminzei", "kazei")[0] == 600_010


def test_password_never_printed(pg: tuple[str, str], tmp_path: Path) -> None:
    dsn, _ = pg
    secret = "pw-Zq81-never-shown"
    ok = load_a(pg, tmp_path / "ok", 2, 1, dsn=f"{dsn} password={secret}")  # trust auth ignores it
    assert ok.exit_code == 0, ok.stderr
    manifest = (tmp_path / "ok" / "out" / "manifest.json").read_text(encoding="utf-8")
    assert secret not in ok.stdout + ok.stderr + manifest and "postgresql://postgres@127.0.0.1:5432/test" in manifest
    bad = load_a(pg, tmp_path / "bad", 2, 1, dsn=f"postgresql://postgres:{secret}@127.0.0.1:1/test?connect_timeout=2")
    assert bad.exit_code == 2 and "cannot connect to PostgreSQL" in bad.stderr
    assert secret not in bad.stdout + bad.stderr and "port=1" in bad.stderr
