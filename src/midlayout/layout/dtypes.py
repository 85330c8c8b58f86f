"""The polars type each layout item has in every frame and output (next to the model it types)."""

from __future__ import annotations

import polars as pl

from midlayout.layout.model import Item

DTYPES: dict[str, type[pl.DataType]] = {
    "string": pl.String,
    "code": pl.String,
    "number": pl.Int64,
    "date": pl.Date,
    "flag": pl.Boolean,
}


def polars_dtype(item: Item) -> pl.DataType:
    """The polars dtype an item has in every frame and output (a number with a scale is a Decimal)."""
    if item.type == "number" and item.scale:
        return pl.Decimal(item.length, item.scale)
    return DTYPES[item.type]()
