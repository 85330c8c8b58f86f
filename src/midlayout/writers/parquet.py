"""Parquet writer: one file per layout file, streamed batch by batch."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from midlayout.layout.model import FileDef, Layout
from midlayout.writers.base import Writer


class ParquetWriter(Writer):
    """`parquet/<gyomu>/<file>.parquet`, zstd, typed columns named by item id."""

    name = "parquet"

    def __init__(self, out_dir: Path) -> None:
        super().__init__(out_dir)
        self._open: dict[tuple[str, str], tuple[Path, Path, pq.ParquetWriter | None, pl.Schema]] = {}

    def start(self, layout: Layout, file: FileDef) -> None:
        from midlayout.mapping.compile import polars_dtype

        final = self.out_dir / "parquet" / layout.gyomu / f"{file.id}.parquet"
        schema = pl.Schema({it.id: polars_dtype(it) for it in file.items})
        self._open[(layout.ref, file.id)] = (self.temp_for(final), final, None, schema)
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        temp, final, writer, schema = self._open[(layout.ref, file.id)]
        table = batch.select(list(schema)).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(temp, table.schema, compression="zstd")
            self._open[(layout.ref, file.id)] = (temp, final, writer, schema)
        writer.write_table(table)
        self.count(layout, file, batch)

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        done = []
        for (ref, file_id), (temp, final, writer, schema) in self._open.items():
            if writer is None:  # no rows: still write a typed, empty file
                pl.DataFrame(schema=schema).write_parquet(temp, compression="zstd")
            else:
                writer.close()
            done.append((temp, final, f"{ref}:{file_id}", self.rows[(ref, file_id)]))
        return done
