"""The PostgreSQL writer's options and life cycle; psycopg is imported only when a load starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Layout
from midlayout.writers.base import Output, Writer, parse_bool

if TYPE_CHECKING:
    from midlayout.writers.postgres.load import Load

MODES = ("create", "append", "replace", "upsert")


class PostgresWriter(Writer):
    """Load every file of the run into PostgreSQL in one transaction: COPY to staging, then apply `mode`.

    Tables are named after the layout files, in one schema per 業務 (`schema_prefix` + 業務 id, or
    `schema` for all). The DDL comes from the layout: types, NOT NULL, primary key on the layout key, and
    deferred foreign keys between files of the same 業務. A load id already recorded in
    `<meta_schema>.midlayout_loads` for a table is a no-op for that table.
    """

    name = "postgres"
    DATABASE = True
    CONNECTION_OPTIONS = frozenset({"dsn", "dsn_env", "meta_schema"})
    OPTIONS: ClassVar[dict[str, str]] = {
        "dsn": "libpq connection string or URI (prefer dsn_env or PG* variables: a DSN may hold a password)",
        "dsn_env": "name of an environment variable holding the DSN",
        "mode": "create | append (default) | replace | upsert",
        "schema": "one schema for every 業務 (default: schema_prefix + 業務 id)",
        "schema_prefix": "prefix of the per-業務 schema name (default none)",
        "meta_schema": "schema of the midlayout_loads bookkeeping table (default midlayout)",
        "foreign_keys": "create foreign keys between files of a 業務 when creating tables (default true)",
    }

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        o = self.options
        self.mode = str(o.get("mode", "append"))
        if self.mode not in MODES:
            raise UsageError(f"writer postgres: mode {self.mode!r} is not one of {', '.join(MODES)}")
        self.dsn = self._dsn(o)
        self.schema = self._name(o, "schema", None)
        self.prefix = self._name(o, "schema_prefix", "") or ""
        self.meta = self._name(o, "meta_schema", "midlayout") or "midlayout"
        self.foreign_keys = parse_bool("foreign_keys", o.get("foreign_keys", True))
        if not load_id:
            raise UsageError("writer postgres needs a load id (run it through convert or run)")
        self.load: Load | None = None

    @staticmethod
    def _dsn(o: Mapping[str, Any]) -> str:
        if "dsn" in o and "dsn_env" in o:
            raise UsageError("writer postgres: give dsn or dsn_env, not both")
        if "dsn_env" in o:
            var = str(o["dsn_env"])
            if var not in os.environ:
                raise UsageError(f"writer postgres: environment variable {var} (dsn_env) is not set")
            return os.environ[var]
        return str(o.get("dsn", ""))

    @staticmethod
    def _name(o: Mapping[str, Any], key: str, default: str | None) -> str | None:
        value = o.get(key, default)
        if value is not None and (not isinstance(value, str) or (key != "schema_prefix" and not value)):
            raise UsageError(f"writer postgres: {key} must be a non-empty name, got {value!r}")
        return value

    def schema_for(self, layout: Layout) -> str:
        return self.schema or f"{self.prefix}{layout.gyomu}"

    @property
    def backend_pid(self) -> int | None:
        """The server process of the load (for monitoring; None before the first file starts)."""
        return self.load.backend_pid if self.load else None

    def start(self, layout: Layout, file: FileDef) -> None:
        if self.load is None:
            from midlayout.writers.postgres.load import Load

            self.load = Load(self.dsn, self.load_id, self.mode, self.meta, self.foreign_keys)
        schema = self.schema_for(layout)
        clash = [t for t in self.load.targets.values() if (t.schema, t.table) == (schema, file.id)]
        if clash:
            raise UsageError(
                f"writer postgres: {clash[0].layout.ref}:{file.id} and {layout.ref}:{file.id} "
                f"would both load {schema}.{file.id}; use one schema per 業務"
            )
        self.load.add(layout, file, schema)
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        assert self.load is not None, "start() comes before write()"
        self.load.copy(layout, file, batch)
        self.count(layout, file, batch)

    def prepare(self) -> None:
        if self.load is not None:
            self.load.apply()

    def commit(self) -> list[Output]:
        if self.load is None:
            return []
        load = self.load
        load.commit()
        w = load.where
        url = f"postgresql://{w['user']}@{w['host']}:{w['port']}/{w['dbname']}"
        return [
            Output(self.name, url, f"{ref}:{file_id}", t.rows if not t.skip else 0, "", load.details(t))
            for (ref, file_id), t in load.targets.items()
        ]

    def abort(self) -> None:
        if self.load is not None:
            self.load.abort()
