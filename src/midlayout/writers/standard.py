"""The standard file: CSV in the layout's declared encoding, header of 項目名称."""

from __future__ import annotations

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.writers.base import StreamFileWriter


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


class StandardCsvWriter(StreamFileWriter):
    """`standard/<gyomu>/<file>.csv`, CRLF, quoted where needed, in the layout's encoding."""

    name = "standard"
    folder, suffix = "standard", ".csv"

    def header(self, layout: Layout, file: FileDef) -> bytes:
        # CSV quoting (a `"` in a 項目名称 doubled), as polars quotes the values below.
        names = ('"' + it.name.replace('"', '""') + '"' for it in file.items)
        return (",".join(names) + "\r\n").encode(layout.encoding)

    def encode(self, layout: Layout, file: FileDef, batch: pl.DataFrame, first_record: int) -> bytes:
        text = render(file, batch).write_csv(
            include_header=False, line_terminator="\r\n", quote_style="non_numeric"
        )
        # Strict: validation already rejected anything the encoding cannot hold, so this never replaces.
        return text.encode(layout.encoding)
