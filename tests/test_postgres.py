"""The PostgreSQL writer against a real server: DDL, modes, idempotent reruns, faults, and no password leaks."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.errors import LoadError, TargetError
from midlayout.layout.registry import resolve
from midlayout.writers.postgres import PostgresWriter
from tests.conftest import MAPPINGS
from tests.synth import vendor_a

psycopg = pytest.importorskip("psycopg", reason="psycopg not installed (pip install midlayout[postgres])")
sql = psycopg.sql

A_MAPPINGS = [
    "-m",
    str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"),
    "-m",
    str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"),
]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def load_a(
    pg: tuple[str, str],
    folder: Path,
    households: int = 4,
    seed: int = 1,
    *options: str,
    dsn: str | None = None,
) -> Any:
    """Convert synthetic A社 inputs straight into PostgreSQL through the CLI (--json)."""
    inputs = [str(p) for p in vendor_a(folder / "in", households, seed)]
    base, prefix = pg
    opts = [
        f"postgres.dsn={dsn or base}",
        f"postgres.schema_prefix={prefix}",
        f"postgres.meta_schema={prefix}meta",
    ]
    args = ["convert", *A_MAPPINGS, *inputs, "--out", str(folder / "out"), "-w", "postgres", "--json"]
    for o in [*opts, *options]:
        args += ["-O", o]
    return cli(*args)


def query(dsn: str, text: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(text, params or []).fetchall()  # type: ignore[arg-type]


def snapshot(dsn: str, schema: str, table: str) -> tuple[Any, ...]:
    """Row count, content hash and the xmin of every row (unchanged xmins prove nothing was rewritten)."""
    stmt = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')), "
        "string_agg(xmin::text, ',' ORDER BY ctid) FROM {}.{} t"
    ).format(sql.Identifier(schema), sql.Identifier(table))
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(stmt).fetchone()  # type: ignore[return-value]


def all_tables(pg: tuple[str, str]) -> dict[str, tuple[Any, ...]]:
    dsn, prefix = pg
    names = [("juki", "setai"), ("juki", "jumin"), ("kojin_juminzei", "kazei")]
    return {f"{g}.{t}": snapshot(dsn, prefix + g, t) for g, t in names}


def loads(pg: tuple[str, str]) -> list[tuple[Any, ...]]:
    dsn, prefix = pg
    return query(
        dsn,
        f'SELECT load_id, schema_name, table_name, mode, rows FROM "{prefix}meta".midlayout_loads ORDER BY 2, 3, 1',
    )


Frames = dict[tuple[str, str], pl.DataFrame]


def _frames(folder: Path, households: int, seed: int) -> Frames:
    """Typed rows of the three A社 targets, as the pipeline hands them to writers."""
    from midlayout.layout.mapping import load_mapping
    from midlayout.pipeline.convert import ConvertOptions, convert

    inputs = [str(p) for p in vendor_a(folder / "in", households, seed)]
    mappings = [load_mapping(MAPPINGS / "vendor_a" / n) for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]
    result = convert(mappings, inputs, folder / "out", ConvertOptions(("parquet",)))
    assert result.rejected == 0
    targets = [
        ("chukan/juki@2.5", "setai"),
        ("chukan/juki@2.5", "jumin"),
        ("chukan/kojin_juminzei@2.5", "kazei"),
    ]
    return {
        t: pl.read_parquet(folder / "out" / "parquet" / t[0].split("/")[1].split("@")[0] / f"{t[1]}.parquet")
        for t in targets
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    """3 households (seed 1)."""
    return _frames(tmp_path_factory.mktemp("small"), 3, 1)


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    """4 households with other names (seed 7): the first 3 share their keys with `small`."""
    return _frames(tmp_path_factory.mktemp("other"), 4, 7)


def load_frames(pg: tuple[str, str], frames: Frames, load_id: str, mode: str = "append") -> list[Any]:
    """Run the writer's whole life cycle over `frames`; return its outputs."""
    dsn, prefix = pg
    writer = PostgresWriter(
        Path("."),
        {"dsn": dsn, "schema_prefix": prefix, "meta_schema": prefix + "meta", "mode": mode},
        load_id,
    )
    try:
        for (ref, file_id), frame in frames.items():
            layout = resolve(ref)
            writer.start(layout, layout.file(file_id))
            writer.write(layout, layout.file(file_id), frame)
        writer.prepare()
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def test_ddl_comes_from_the_layout(pg: tuple[str, str], small: Frames) -> None:
    load_frames(pg, small, "l1", "create")
    dsn, prefix = pg
    cols = {
        c: (t, n)
        for c, t, n in query(
            dsn,
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'jumin'",
            [prefix + "juki"],
        )
    }
    assert cols["atena_no"] == ("character varying", "NO") and cols["kyushi"] == ("character varying", "YES")
    assert (
        cols["seinengappi"][0] == "date"
        and cols["seinengappi_fusho"][0] == "boolean"
        and cols["kisai_juni"][0] == "integer"
    )
    assert query(
        dsn,
        "SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'jumin' AND column_name = 'jusho'",
        [prefix + "juki"],
    ) == [(120,)]
    cons = query(
        dsn,
        "SELECT conname, contype, condeferred FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 1",
        [prefix + "juki"],
    )
    assert cons == [
        ("jumin_pkey", "p", False),
        ("jumin_setai_no_fkey", "f", True),
        ("setai_pkey", "p", False),
        ("setai_setainushi_atena_no_fkey", "f", True),
    ]
    assert query(dsn, "SELECT col_description(%s::regclass, 4)", [f"{prefix}juki.jumin"]) == [("氏名",)]
    # The 個人住民税 reference to 住民基本台帳 crosses 業務: no foreign key, and its key is composite.
    assert query(
        dsn,
        "SELECT count(*) FROM pg_constraint WHERE connamespace = %s::regnamespace AND contype = 'f'",
        [prefix + "kojin_juminzei"],
    ) == [(0,)]
    assert query(dsn, f'SELECT count(*) FROM "{prefix}juki".jumin') == [
        (small[("chukan/juki@2.5", "jumin")].height,)
    ]


SECRET = "pw-Zq81-never-shown"


def test_manifest_records_where_and_a_rerun_is_a_no_op(pg: tuple[str, str], tmp_path: Path) -> None:
    dsn, prefix = pg
    first = load_a(
        pg, tmp_path, 4, 1, "postgres.mode=replace", dsn=f"{dsn} password={SECRET}"
    )  # trust auth ignores it
    assert first.exit_code == 0, first.stderr
    manifest = (tmp_path / "out" / "manifest.json").read_text(encoding="utf-8")
    assert (
        SECRET not in first.stdout + first.stderr + manifest
        and "postgresql://postgres@127.0.0.1:5432/test" in manifest
    )
    before, bookkeeping = all_tables(pg), loads(pg)
    out = [o for o in json.loads(first.stdout)["outputs"] if o["writer"] == "postgres"]
    jumin = next(o for o in out if o["target"] == "chukan/juki@2.5:jumin")
    d = jumin["details"]
    assert (d["host"], d["port"], d["dbname"], d["schema"], d["table"], d["mode"], d["status"]) == (
        "127.0.0.1",
        5432,
        "test",
        prefix + "juki",
        "jumin",
        "replace",
        "applied",
    )
    assert (
        d["load_id"] == json.loads(first.stdout)["load_ids"]["postgres"]
        and jumin["rows"] == before["juki.jumin"][0]
    )
    assert len(bookkeeping) == 3 and {b[0] for b in bookkeeping} == {d["load_id"]}

    again = load_a(pg, tmp_path, 4, 1, "postgres.mode=replace")
    assert again.exit_code == 0, again.stderr
    assert all_tables(pg) == before and loads(pg) == bookkeeping
    statuses = {
        o["details"]["status"] for o in json.loads(again.stdout)["outputs"] if o["writer"] == "postgres"
    }
    assert statuses == {"already_applied"}


def _household(frames: Frames, setai_no: str) -> Frames:
    """One household's rows in each target, renumbered (keys prefixed with 9) so no key is taken."""
    jumin = frames[("chukan/juki@2.5", "jumin")].filter(pl.col("setai_no") == setai_no)
    picked = {
        ("chukan/juki@2.5", "setai"): frames[("chukan/juki@2.5", "setai")].filter(
            pl.col("setai_no") == setai_no
        ),
        ("chukan/juki@2.5", "jumin"): jumin,
        ("chukan/kojin_juminzei@2.5", "kazei"): frames[("chukan/kojin_juminzei@2.5", "kazei")].filter(
            pl.col("atena_no").is_in(jumin["atena_no"].implode())
        ),
    }
    keys = {"atena_no", "setai_no", "setainushi_atena_no"}
    return {
        t: f.with_columns(("9" + pl.col(c)).alias(c) for c in keys & set(f.columns))
        for t, f in picked.items()
    }


def test_modes_create_upsert_replace_append(pg: tuple[str, str], small: Frames, other: Frames) -> None:
    dsn, prefix = pg
    setai = ("chukan/juki@2.5", "setai")
    load_frames(pg, small, "l1", "create")
    before = all_tables(pg)
    with pytest.raises(TargetError, match=r"juki\.setai already exists \(mode create\)"):
        load_frames(pg, other, "l2", "create")
    assert all_tables(pg) == before
    # upsert: the 3 shared households are updated, the 4th is inserted
    load_frames(pg, other, "l2", "upsert")
    heads = f'SELECT setai_no, setainushi_shimei FROM "{prefix}juki".setai ORDER BY 1'
    assert query(dsn, heads) == sorted(other[setai].select("setai_no", "setainushi_shimei").rows())
    # replace with `small`: exactly its rows remain
    load_frames(pg, small, "l3", "replace")
    assert query(dsn, heads) == sorted(small[setai].select("setai_no", "setainushi_shimei").rows())
    # append the household `small` does not have: one more of each
    extra = _household(other, other[setai]["setai_no"][0])
    appended = load_frames(pg, extra, "l4", "append")
    assert {o.target: o.rows for o in appended}["chukan/juki@2.5:setai"] == 1
    assert query(dsn, heads) == sorted(
        small[setai].select("setai_no", "setainushi_shimei").rows()
        + extra[setai].select("setai_no", "setainushi_shimei").rows()
    )
    assert [r[3] for r in loads(pg)] == ["create", "upsert", "replace", "append"] * 3


def test_constraint_violation_leaves_target_unchanged_then_rerun_succeeds(
    pg: tuple[str, str], small: Frames, tmp_path: Path
) -> None:
    dsn, prefix = pg
    load_frames(pg, small, "l1")
    before, bookkeeping = all_tables(pg), loads(pg)
    # Other data, same 宛名番号: appending violates the primary key.
    failed = load_a(pg, tmp_path / "2", 4, 5, "postgres.mode=append")
    assert failed.exit_code == 1
    err = failed.stderr.strip()
    assert (
        len(err.splitlines()) == 1
        and "duplicate key value violates unique constraint" in err
        and "pkey" in err
    )
    assert (
        "SQLSTATE 23505" in err and "nothing was applied" in err and "000000000" not in err
    )  # no key values
    assert all_tables(pg) == before and loads(pg) == bookkeeping
    assert not (tmp_path / "2" / "out" / "manifest.json").exists()
    # The failed load was not recorded, so the same inputs load once the mode fits the data.
    rerun = load_a(pg, tmp_path / "2", 4, 5, "postgres.mode=upsert")
    assert rerun.exit_code == 0, rerun.stderr
    assert snapshot(dsn, prefix + "juki", "setai")[0] == 4


def _big_kazei(n: int, start: int) -> pl.DataFrame:
    ids = pl.int_range(start, start + n, eager=True)
    amount = (ids % 1000 * 1000).cast(pl.Int64)
    return pl.DataFrame(
        {
            "kazei_nendo": pl.Series([2024] * n, dtype=pl.Int64),
            "atena_no": ids.cast(pl.String).str.zfill(15),
            "kazei_kubun": ["1"] * n,
            "choshu_kubun": ["2"] * n,
            "kyuyo_shunyu": amount,
            "sogo_shotoku": amount,
            "shotoku_kojo": amount,
            "kazei_hyojun": amount,
            "shichoson_shotokuwari": amount,
            "todofuken_shotokuwari": amount,
            "kintowari": amount,
            "zeigaku": amount,
        }
    )


def _writer(pg: tuple[str, str], tmp_path: Path, load_id: str) -> PostgresWriter:
    dsn, prefix = pg
    return PostgresWriter(
        tmp_path, {"dsn": dsn, "schema_prefix": prefix, "meta_schema": prefix + "meta"}, load_id
    )


def test_backend_killed_mid_copy_leaves_target_unchanged_then_rerun_succeeds(
    pg: tuple[str, str], tmp_path: Path
) -> None:
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


def test_password_never_printed_when_the_connection_fails(
    pg: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = resolve("chukan/juki@2.5")
    for dsn in (
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/test?connect_timeout=2",
        f"host=127.0.0.1 port=1 user=postgres password={SECRET} connect_timeout=2",
    ):
        writer = PostgresWriter(Path("."), {"dsn": dsn}, "l1")
        with pytest.raises(TargetError) as info:
            writer.start(layout, layout.file("setai"))
        message = str(info.value)
        assert "cannot connect to PostgreSQL" in message and "port=1" in message and SECRET not in message
    monkeypatch.setenv("PGPASSWORD", SECRET)
    monkeypatch.setenv("MIDLAYOUT_TEST_DSN", f"host=127.0.0.1 port=1 dbname={SECRET} connect_timeout=2")
    writer = PostgresWriter(Path("."), {"dsn_env": "MIDLAYOUT_TEST_DSN"}, "l1")
    with pytest.raises(TargetError) as info:
        writer.start(layout, layout.file("setai"))
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("same_tables", [False, True], ids=["own-schemas", "same-tables"])
def test_concurrent_loads_into_a_fresh_meta_schema_do_not_race(
    pg: tuple[str, str], small: Frames, same_tables: bool
) -> None:
    """Two loads (a job's entries running side by side on a cluster) start together into a meta schema
    that does not exist yet: both commit, none fails creating it; loads into the same new tables take
    turns creating them. Before the creation lock one of them failed with a unique violation."""
    dsn, prefix = pg
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def load(name: str) -> None:
        options = {
            "dsn": dsn,
            "schema_prefix": prefix if same_tables else f"{prefix}{name}_",
            "meta_schema": prefix + "meta",
            "mode": "upsert",
        }
        writer = PostgresWriter(Path("."), options, f"load-{name}")
        try:
            start.wait(timeout=30)
            for (ref, file_id), frame in small.items():
                layout = resolve(ref)
                writer.start(layout, layout.file(file_id))
                writer.write(layout, layout.file(file_id), frame)
            writer.prepare()
            writer.commit()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            writer.abort()
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted({(r[0], r[2]) for r in loads(pg)}) == sorted(
        (f"load-{n}", t) for n in ("a", "b") for t in ("jumin", "kazei", "setai")
    )
    schemas = [prefix] if same_tables else [f"{prefix}a_", f"{prefix}b_"]
    for s in schemas:
        assert snapshot(dsn, s + "juki", "jumin")[0] == small[("chukan/juki@2.5", "jumin")].height
