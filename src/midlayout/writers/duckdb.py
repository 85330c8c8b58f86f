"""DuckDB writer: one database file, one schema per 業務, one table per layout file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from midlayout.duckcon import open_duckdb
from midlayout.layout.model import FileDef, Layout
from midlayout.sql import ident as quote_ident
from midlayout.sql import literal, number
from midlayout.writers.base import Output, Writer
from midlayout.writers.duckdb_content import content_sha256

_SQL_TYPES = {"string": "VARCHAR", "code": "VARCHAR", "number": "BIGINT", "date": "DATE", "flag": "BOOLEAN"}


def table_name(layout: Layout, file: FileDef) -> str:
    """`"<gyomu>"."<file>"`."""
    return f"{quote_ident(layout.gyomu)}.{quote_ident(file.id)}"


class DuckDBWriter(Writer):
    """`midlayout.duckdb`, with column comments holding the 項目名称."""

    name = "duckdb"
    STREAMING = True

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        self.final = out_dir / "midlayout.duckdb"
        self.temp = self.temp_for(self.final)
        self.temp.unlink(missing_ok=True)
        self.con = open_duckdb(str(self.temp))
        self.targets: list[tuple[str, str]] = []
        self.content: str | None = None  # content_sha256, taken in `prepare`

    def start(self, layout: Layout, file: FileDef) -> None:
        again = (layout.ref, file.id) in self.targets
        if again:  # started anew: the table is created again, empty (in its place among the targets)
            self.con.execute(f"DROP TABLE {table_name(layout, file)}")
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(layout.gyomu)}")
        cols = []
        for it in file.items:
            typ = (
                f"DECIMAL({number(it.length)},{number(it.scale)})"
                if it.type == "number" and it.scale
                else _SQL_TYPES[it.type]
            )
            cols.append(f"{quote_ident(it.id)} {typ}{' NOT NULL' if it.required else ''}")
        self.con.execute(f"CREATE TABLE {table_name(layout, file)} ({', '.join(cols)})")
        for it in file.items:
            self.con.execute(
                f"COMMENT ON COLUMN {table_name(layout, file)}.{quote_ident(it.id)} IS {literal(it.name)}"
            )
        if not again:
            self.targets.append((layout.ref, file.id))
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        arrow = batch.select(file.item_ids).to_arrow()  # noqa: F841 (referenced by name in SQL)
        self.con.execute(f"INSERT INTO {table_name(layout, file)} SELECT * FROM arrow")
        self.count(layout, file, batch)

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        self.con.execute("CHECKPOINT")
        self.con.close()
        rows = sum(self.rows.values())
        return [(self.temp, self.final, ",".join(f"{r}:{f}" for r, f in self.targets), rows)]

    def prepare(self) -> None:
        """As every file writer, plus `content_sha256` (tables and rows; the file's bytes vary by run), read
        from the closed temp file (renaming it changes neither)."""
        super().prepare()
        if self.content is None:
            self.content = content_sha256(self.temp)

    def commit(self) -> list[Output]:
        outputs = super().commit()
        return [
            Output(o.writer, o.path, o.target, o.rows, o.sha256, {"content_sha256": self.content})
            for o in outputs
        ]

    def abort(self) -> None:
        self.con.close()
        super().abort()
        Path(str(self.temp) + ".wal").unlink(missing_ok=True)
