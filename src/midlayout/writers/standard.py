"""The standard file: CSV in the layout's declared encoding, header of 項目名称."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.writers.base import Writer


def render(file: FileDef, batch: pl.DataFrame) -> pl.DataFrame:
    """Items as the standard file writes them: dates YYYYMMDD, flags 0/1, numbers plain."""
    exprs = []
    for it in file.items:
        col = pl.col(it.id)
        if it.type == "date":
            col = col.dt.strftime("%Y%m%d")
        elif it.type == "flag":
            col = col.cast(pl.Int8)
        exprs.append(col.cast(pl.String).alias(it.name))
    return batch.select(exprs)


class StandardCsvWriter(Writer):
    """`standard/<gyomu>/<file>.csv`, CRLF, quoted where needed, in the layout's encoding."""

    name = "standard"

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        self._open: dict[tuple[str, str], tuple[Path, Path, BinaryIO]] = {}

    def start(self, layout: Layout, file: FileDef) -> None:
        final = self.out_dir / "standard" / layout.gyomu / f"{file.id}.csv"
        temp = self.temp_for(final)
        fh = temp.open("wb")
        header = ",".join(f'"{it.name}"' for it in file.items) + "\r\n"
        fh.write(header.encode(layout.encoding))
        self._open[(layout.ref, file.id)] = (temp, final, fh)
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        text = render(file, batch).write_csv(include_header=False, line_terminator="\r\n", quote_style="non_numeric")
        # Strict: validation already rejected anything the encoding cannot hold, so this never replaces.
        self._open[(layout.ref, file.id)][2].write(text.encode(layout.encoding))
        self.count(layout, file, batch)

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        done = []
        for (ref, file_id), (temp, final, fh) in self._open.items():
            fh.close()
            done.append((temp, final, f"{ref}:{file_id}", self.rows[(ref, file_id)]))
        return done
