"""The standard file as fixed-width records, in the layout's encoding and 桁数, CRLF-terminated.

Each item takes exactly its 桁数: `bytes` items are left-aligned and padded with ASCII spaces to their byte
length in the encoding; `digits` items (strings, codes, numbers) are right-aligned and zero-padded; dates
are YYYYMMDD and flags 0/1. An empty (null) item is all spaces. A number with a scale is written with an
implied decimal point (its value times 10**scale). A value that does not fit is an OutputError naming the
file, record and item: nothing is ever truncated.
"""

from __future__ import annotations

import polars as pl

from midlayout.errors import Location, MidlayoutError
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.text.encodings import byte_length
from midlayout.writers.base import StreamFileWriter

CRLF = "\r\n"


class OutputError(MidlayoutError):
    """A value cannot be written in the target format without losing information."""

    exit_code = 1


def _text(item: Item) -> pl.Expr:
    """The item as unpadded text (null stays null)."""
    col = pl.col(item.id)
    if item.type == "date":
        return col.dt.strftime("%Y%m%d")
    if item.type == "flag":
        return col.cast(pl.Int8).cast(pl.String)
    if item.type == "number":
        if item.scale:
            col = (col * (10**item.scale)).cast(pl.Int64)
        return col.cast(pl.String)
    return col


def _padded(item: Item, text: pl.Expr, width: pl.Expr) -> pl.Expr:
    """Pad text of byte length `width` to the item's 桁数; null becomes spaces."""
    spaces = pl.lit(" " * item.length)
    if item.unit == "bytes":
        return pl.concat_str([text, spaces.str.slice(0, pl.lit(item.length) - width)]).fill_null(spaces)
    negative = text.str.starts_with("-")
    digits = pl.when(negative).then(text.str.slice(1)).otherwise(text)
    zeros = pl.lit("0" * item.length).str.slice(0, pl.lit(item.length) - width)
    filled = (
        pl.when(negative)
        .then(pl.concat_str([pl.lit("-"), zeros, digits]))
        .otherwise(pl.concat_str([zeros, digits]))
    )
    return filled.fill_null(spaces)


def render_fixed(layout: Layout, file: FileDef, batch: pl.DataFrame, first_record: int = 1) -> bytes:
    """Render `batch` as fixed-width records (vectorised); OutputError if any value does not fit."""
    for it in file.items:
        if it.unit == "chars":
            raise OutputError(
                f"{it.name}: a 桁数 in characters has no fixed byte width; write csv or parquet instead",
                Location(file=f"{layout.ref}:{file.id}", field=it.id),
            )
    texts = batch.select([_text(it).alias(it.id) for it in file.items])
    widths = texts.select([byte_length(pl.col(it.id), layout.encoding).alias(it.id) for it in file.items])
    for it in file.items:
        too_long = widths.get_column(it.id) > it.length
        if too_long.any():
            record = first_record + int(too_long.arg_true()[0])
            raise OutputError(
                f"{it.name} does not fit in {it.length} {it.unit} ({int(too_long.sum())} record(s))",
                Location(file=layout.target(file.id), record=record, field=it.id),
            )
    lines = (
        pl.concat([texts, widths.rename({c: f"__w_{c}" for c in widths.columns})], how="horizontal")
        .select(
            pl.concat_str(
                [_padded(it, pl.col(it.id), pl.col(f"__w_{it.id}")) for it in file.items] + [pl.lit(CRLF)]
            )
        )
        .to_series()
    )
    data = "".join(lines.to_list()).encode(layout.encoding)
    expected = batch.height * (sum(it.length for it in file.items) + len(CRLF))
    if len(data) != expected:  # a byte-length rule that disagrees with the codec: refuse rather than misalign
        raise OutputError(
            f"records are {len(data)} bytes, expected {expected}", Location(file=layout.target(file.id))
        )
    return data


class FixedWidthWriter(StreamFileWriter):
    """`fixed/<gyomu>/<file>.dat`: the standard file as fixed-width CRLF records, no header."""

    name = "fixed"
    folder, suffix = "fixed", ".dat"

    def encode(self, layout: Layout, file: FileDef, batch: pl.DataFrame, first_record: int) -> bytes:
        return render_fixed(layout, file, batch, first_record)
