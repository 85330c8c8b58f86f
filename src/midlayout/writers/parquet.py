"""Parquet writer: one file per layout file, streamed batch by batch, or one folder partitioned by an item."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import polars as pl
import pyarrow.parquet as pq

from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Layout
from midlayout.writers.base import Writer

NULL_PARTITION = "__null__"


@dataclass
class _Open:
    temp: Path
    final: Path
    schema: pl.Schema
    partition: str | None
    writer: pq.ParquetWriter | None = None
    parts: dict[str, int] = field(default_factory=dict)


def partition_dir(value: object) -> str:
    """The folder name of one partition value: percent-encoded, so any value is a safe path segment."""
    if value is None:
        return NULL_PARTITION
    text = value.strftime("%Y%m%d") if hasattr(value, "strftime") else str(value)
    return quote(text, safe="")


class ParquetWriter(Writer):
    """`parquet/<gyomu>/<file>.parquet`, zstd, typed columns named by item id.

    With `partition_by: ITEM`, a file that has that item is written as a folder
    `parquet/<gyomu>/<file>/<ITEM>=<value>/part-NNNNN.parquet` (hive style; the item stays in the rows);
    files without the item stay single files.
    """

    name = "parquet"
    STREAMING = True
    OPTIONS: ClassVar[dict[str, str]] = {
        "partition_by": "item id to partition by (hive-style folders); files without it stay whole"
    }

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        partition = self.options.get("partition_by")
        if partition is not None and (not isinstance(partition, str) or not partition):
            raise UsageError(f"writer parquet: partition_by must be an item id, got {partition!r}")
        self.partition_by: str | None = partition
        self._open: dict[tuple[str, str], _Open] = {}

    def start(self, layout: Layout, file: FileDef) -> None:
        from midlayout.layout.dtypes import polars_dtype

        schema = pl.Schema({it.id: polars_dtype(it) for it in file.items})
        partition = self.partition_by if self.partition_by in schema else None
        base = self.out_dir / "parquet" / layout.gyomu
        final = base / file.id if partition else base / f"{file.id}.parquet"
        again = self._open.get((layout.ref, file.id))
        if again is not None:  # started anew: what was written for the file is dropped
            if again.writer is not None:
                again.writer.close()
            shutil.rmtree(again.temp) if again.temp.is_dir() else again.temp.unlink(missing_ok=True)
        temp = again.temp if again is not None else self.temp_for(final)
        if partition:
            temp.mkdir()
        self._open[(layout.ref, file.id)] = _Open(temp, final, schema, partition)
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        out = self._open[(layout.ref, file.id)]
        rows = batch.select(list(out.schema))
        if out.partition:
            for (value,), part in rows.partition_by(out.partition, as_dict=True, maintain_order=True).items():
                self._write_part(out, partition_dir(value), part)
        else:
            table = rows.to_arrow()
            if out.writer is None:
                out.writer = pq.ParquetWriter(out.temp, table.schema, compression="zstd")
            out.writer.write_table(table)
        self.count(layout, file, batch)

    def single_file(self, file: FileDef) -> bool:
        """Whether `file` is written as one Parquet file (not partitioned into a folder)."""
        return self.partition_by is None or self.partition_by not in {it.id for it in file.items}

    def hand_over(self, layout: Layout, file: FileDef, dest: Path) -> None:
        """Close what was written of a single-file target so far and move it to `dest` (the caller reads its
        rows back, then starts the target anew). Not part of the writer API: the pipeline rewrites a target
        the cross-file rules rejected rows from out of it, when its rows were not staged."""
        out = self._open[(layout.ref, file.id)]
        assert out.partition is None, "a partitioned target is not handed over"
        if out.writer is None:  # no rows: a typed, empty file
            pl.DataFrame(schema=out.schema).write_parquet(out.temp, compression="zstd")
        else:
            out.writer.close()
            out.writer = None
        shutil.move(out.temp, dest)

    @staticmethod
    def _write_part(out: _Open, value: str, part: pl.DataFrame) -> None:
        folder = out.temp / f"{out.partition}={value}"
        folder.mkdir(exist_ok=True)
        n = out.parts.get(value, 0)
        part.write_parquet(folder / f"part-{n:05d}.parquet", compression="zstd")
        out.parts[value] = n + 1

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        done = []
        for (ref, file_id), out in self._open.items():
            if out.partition:
                pass  # an empty partitioned file is an empty folder
            elif out.writer is None:  # no rows: still write a typed, empty file
                pl.DataFrame(schema=out.schema).write_parquet(out.temp, compression="zstd")
            else:
                out.writer.close()
            done.append((out.temp, out.final, f"{ref}:{file_id}", self.rows[(ref, file_id)]))
        return done
