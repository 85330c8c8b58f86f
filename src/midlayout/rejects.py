"""The reject record: every failure, at every stage, becomes one row of this shape."""

from __future__ import annotations

import polars as pl

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "record": pl.Int64(),
    "byte_offset": pl.Int64(),
    "stage": pl.String(),
    "rule": pl.String(),
    "item": pl.String(),
    "field": pl.String(),
    "message": pl.String(),
    "raw": pl.Binary(),
}

# Provenance columns every batch carries from the reader to the writer.
FILE, REC, OFF, RAW = "_file", "_rec", "_off", "_raw"
PROVENANCE = (FILE, REC, OFF, RAW)


def empty_rejects() -> pl.DataFrame:
    """A reject frame with no rows."""
    return pl.DataFrame(schema=REJECT_SCHEMA)


def rejects_from(
    rows: pl.DataFrame,
    *,
    stage: str,
    rule: str | pl.Expr,
    message: str | pl.Expr,
    item: str | pl.Expr | None = None,
    field: str | pl.Expr | None = None,
    field_start: int | pl.Expr = 0,
) -> pl.DataFrame:
    """Turn rows that still carry provenance columns into reject rows (vectorised)."""

    def lit(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, dtype=pl.String)

    start = field_start if isinstance(field_start, pl.Expr) else pl.lit(field_start)
    return rows.select(
        pl.col(FILE).cast(pl.String).alias("file"),
        pl.col(REC).cast(pl.Int64).alias("record"),
        (pl.col(OFF) + start).cast(pl.Int64).alias("byte_offset"),
        pl.lit(stage, dtype=pl.String).alias("stage"),
        lit(rule).alias("rule"),
        lit(item).alias("item"),
        lit(field).alias("field"),
        lit(message).alias("message"),
        pl.col(RAW).alias("raw"),
    )
