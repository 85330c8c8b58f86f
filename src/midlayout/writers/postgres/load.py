"""The transactional PostgreSQL load: COPY into staging tables, then apply a mode to every target at once.

Everything happens in one transaction on one connection: if the run fails at any point (a constraint, a
killed backend, a crash), the targets are exactly as they were and no load is recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

import midlayout
from midlayout.errors import TargetError
from midlayout.layout.model import FileDef, Layout
from midlayout.writers.postgres import ddl
from midlayout.writers.postgres.conn import connect, describe, translated


@dataclass
class Target:
    """One layout file of the run and the table it goes to."""

    layout: Layout
    file: FileDef
    schema: str
    table: str
    stage: str
    applied_rows: int | None = None  # rows of an earlier load with the same id: this one is a no-op
    rows: int = 0

    @property
    def skip(self) -> bool:
        return self.applied_rows is not None


class Load:
    """One connection, one transaction, every target table of a run."""

    def __init__(self, dsn: str, load_id: str, mode: str, meta: str, foreign_keys: bool) -> None:
        self.dsn, self.load_id, self.mode, self.meta, self.fks = dsn, load_id, mode, meta, foreign_keys
        self.conn = connect(dsn)
        self.where = describe(self.conn)
        with self._sql("prepare"):
            # Two runs of the same load wait for each other instead of both applying it.
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [load_id])
            if not self._relation_exists(meta, ddl.LOADS_TABLE):
                self._create_schema(meta)
                with self._creating(meta, ddl.LOADS_TABLE) as missing:
                    if missing:
                        self.conn.execute(ddl.loads_table(meta))
        self.targets: dict[tuple[str, str], Target] = {}

    @property
    def backend_pid(self) -> int:
        return self.conn.info.backend_pid

    def _sql(self, what: str) -> contextlib.AbstractContextManager[None]:
        return translated(f"PostgreSQL {what}", self.dsn)

    def add(self, layout: Layout, file: FileDef, schema: str) -> Target:
        """Register a target; create its staging table unless this load id was already applied to it."""
        t = Target(layout, file, schema, file.id, f"midlayout_stage_{len(self.targets)}")
        with self._sql(f"start {schema}.{file.id}"):
            row = self.conn.execute(
                sql.SQL(
                    "SELECT rows FROM {}.{} WHERE load_id = %s AND schema_name = %s AND table_name = %s"
                ).format(sql.Identifier(self.meta), sql.Identifier(ddl.LOADS_TABLE)),
                [self.load_id, schema, t.table],
            ).fetchone()
            if row is not None:
                t.applied_rows = int(row[0])
            else:
                self.conn.execute(ddl.create_staging(t.stage, file))
        self.targets[(layout.ref, file.id)] = t
        return t

    def copy(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        """COPY a batch into the staging table, as CSV rendered by polars (no per-row Python)."""
        t = self.targets[(layout.ref, file.id)]
        if t.skip or not batch.height:
            return
        data = (
            batch.select(file.item_ids)
            .write_csv(include_header=False, quote_style="necessary")
            .encode("utf-8")
        )
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(t.stage), ddl.columns(file)
        )
        with (
            self._sql(f"COPY into staging for {t.schema}.{t.table}"),
            self.conn.cursor() as cur,
            cur.copy(stmt) as cp,
        ):
            view = memoryview(data)
            for start in range(0, len(view), 1 << 20):
                cp.write(view[start : start + (1 << 20)])

    def apply(self) -> None:
        """Create missing tables, apply the mode, record the load, and check deferred constraints."""
        todo = [t for t in self.targets.values() if not t.skip]
        with self._sql("apply"):
            # created in one order in every load: loads creating the same tables at once take turns, and
            # never deadlock; then the tables that were there are checked, in the run's order
            made = {
                (t.schema, t.table)
                for t in sorted(todo, key=lambda t: (t.schema, t.table))
                if self._create(t)
            }
            created = [t for t in todo if (t.schema, t.table) in made]
            for t in todo:
                if (t.schema, t.table) not in made:
                    self._check_existing(t)
            if self.fks:
                self._add_foreign_keys(created)
            if self.mode == "replace":
                for t in todo:
                    self.conn.execute(
                        sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(t.schema), sql.Identifier(t.table))
                    )
            for t in todo:
                with self._sql(f"{self.mode} into {t.schema}.{t.table}"):
                    cur = self.conn.execute(
                        ddl.insert_from(t.schema, t.table, t.stage, t.file, self.mode == "upsert")
                    )
                    t.rows = cur.rowcount
                    self._record(t)
            self.conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # surface deferred FK failures before commit

    def _exists(self, t: Target) -> bool:
        return self._relation_exists(t.schema, t.table)

    # Existence is read from the catalog tables, with a fresh snapshot per statement: after waiting for a
    # load that created the name, this sees its commit (to_regclass would answer from this session's
    # cache, which still says "missing").
    def _relation_exists(self, schema: str, name: str) -> bool:
        return self.conn.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s)",
            [schema, name],
        ).fetchone() == (True,)

    def _schema_exists(self, schema: str) -> bool:
        return self.conn.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = %s)", [schema]
        ).fetchone() == (True,)

    @contextlib.contextmanager
    def _creating(self, schema: str, name: str | None = None) -> Iterator[bool]:
        """Around creating `schema` (or `schema.name`): yields whether it is still missing, holding a lock
        on the server until this transaction ends. Loads running at the same time (a job's entries on a
        cluster) that both found it missing take turns: the second waits for the first to commit, then
        finds it there. `CREATE … IF NOT EXISTS` alone is not enough: two transactions that both create
        the same name fail one of them with a unique violation."""
        key = f"midlayout:create:{schema}" + (f".{name}" if name is not None else "")
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
        yield not (self._relation_exists(schema, name) if name is not None else self._schema_exists(schema))

    def _create_schema(self, schema: str) -> None:
        """CREATE SCHEMA when missing, safe against loads creating it at the same time."""
        if self._schema_exists(schema):
            return
        with self._creating(schema) as missing:
            if missing:
                self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def _create(self, t: Target) -> bool:
        """Create the table if missing (True when this load created it)."""
        if self._exists(t):
            return False
        self._create_schema(t.schema)
        with self._creating(t.schema, t.table) as missing:
            if not missing:  # another load created it meanwhile
                return False
            self.conn.execute(ddl.create_table(t.schema, t.table, t.file))
            for stmt in ddl.comments(t.schema, t.table, t.file):
                self.conn.execute(stmt)
            return True

    def _check_existing(self, t: Target) -> None:
        """Refuse a table in the way (mode create) or of another shape."""
        if self.mode == "create":
            raise TargetError(
                f"table {t.schema}.{t.table} already exists (mode create); use append, replace or upsert"
            )
        self._check_columns(t)

    def _check_columns(self, t: Target) -> None:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            [t.schema, t.table],
        ).fetchall()
        have = [r[0] for r in rows]
        if have != t.file.item_ids:
            raise TargetError(
                f"table {t.schema}.{t.table} has columns {', '.join(have)}; "
                f"{t.layout.ref} {t.file.id} has {', '.join(t.file.item_ids)}"
            )

    def _add_foreign_keys(self, created: list[Target]) -> None:
        for t in created:
            for ref_file, stmt in ddl.foreign_keys(t.schema, t.table, t.file):
                if self._exists(Target(t.layout, t.file, t.schema, ref_file, "")):
                    self.conn.execute(stmt)

    def _record(self, t: Target) -> None:
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {}.{} (load_id, schema_name, table_name, layout, file, mode, rows, tool) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(sql.Identifier(self.meta), sql.Identifier(ddl.LOADS_TABLE)),
            [
                self.load_id,
                t.schema,
                t.table,
                t.layout.ref,
                t.file.id,
                self.mode,
                t.rows,
                f"midlayout {midlayout.__version__}",
            ],
        )

    def commit(self) -> None:
        with self._sql("commit"):
            self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.rollback()
        with contextlib.suppress(psycopg.Error):
            self.conn.close()

    def details(self, t: Target) -> dict[str, Any]:
        """What the manifest records about one table (no password: `where` comes from the live connection)."""
        return {
            **self.where,
            "schema": t.schema,
            "table": t.table,
            "mode": self.mode,
            "load_id": self.load_id,
            "status": "already_applied" if t.skip else "applied",
            "rows_loaded": 0 if t.skip else t.rows,
            "rows_in_load": t.applied_rows if t.skip else t.rows,
        }
