"""The reject record: every failure, at every stage, becomes one row of this shape."""

from __future__ import annotations

import os
from dataclasses import dataclass

import polars as pl

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "record": pl.Int64(),
    "byte_offset": pl.Int64(),  # file offset of the field the rule concerns (record start when none)
    "record_offset": pl.Int64(),  # file offset of the record
    "stage": pl.String(),
    "rule": pl.String(),
    "item": pl.String(),
    "field": pl.String(),
    "message": pl.String(),
    "raw": pl.Binary(),
}

# Facts a report needs about a reject, as data rather than message text: for a repertoire reject, the
# repertoires the value is outside of and each character outside (hex code point, 1-based position); for an
# unmapped vendor code, the code map and the code. Staged with the rejects, never written to rejects.parquet/csv
# (which hold the code in the message and the raw record) nor to the manifest.
DETAIL = "detail"
DETAIL_TYPE = pl.Struct(
    {
        "outside": pl.String(),
        "chars": pl.List(pl.Struct({"code": pl.String(), "pos": pl.Int64()})),
        "code_map": pl.String(),
        "code": pl.String(),
    }
)


def code_detail(code_map: str, code: pl.Expr) -> pl.Expr:
    """The detail of an unmapped vendor code (DETAIL_TYPE): its code map and the code."""
    return pl.struct(
        pl.lit(None, dtype=pl.String).alias("outside"),
        pl.lit(None, dtype=DETAIL_TYPE.to_schema()["chars"]).alias("chars"),
        pl.lit(code_map, dtype=pl.String).alias("code_map"),
        code.cast(pl.String).alias("code"),
    )


def unmapped_codes(rejects: pl.DataFrame) -> pl.DataFrame:
    """The distinct unmapped vendor codes (item, code_map, code) with the records each rejected: an aggregate
    for the terminal, read from the detail column (never from the message text)."""
    found = rejects.filter(pl.col("rule") == "code_unmapped")
    detail = pl.col(DETAIL).struct
    return (
        found.select(pl.col("item"), detail.field("code_map"), detail.field("code"))
        .group_by("item", "code_map", "code")
        .agg(pl.len().alias("records"))
        .sort("item", "code_map", "code")
    )


# Provenance columns every batch carries from the reader to the writer.
FILE, REC, OFF, RAW = "_file", "_rec", "_off", "_raw"
PROVENANCE = (FILE, REC, OFF, RAW)
# Valid rows are staged without their raw bytes (half the staged volume): the record's length is enough to
# read them back from the input, which `with_raw` does for the few rows a cross-file rule rejects.
LEN = "_len"
STAGED_PROVENANCE = (FILE, REC, OFF, LEN)


def staged(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows as staged: `_raw` replaced by its byte length."""
    return rows.with_columns(pl.col(RAW).bin.size().cast(pl.Int64).alias(LEN)).drop(RAW)


def with_raw(rows: pl.DataFrame) -> pl.DataFrame:
    """Staged rows (`_file`, `_off`, `_len`) with `_raw` read back from their input files (error path: only
    rows rejected after staging). The inputs are the files the run read, unchanged (their sha256 is in the
    manifest)."""
    raw: list[bytes] = []
    fds: dict[str, int] = {}
    try:
        for path, off, length in zip(
            rows.get_column(FILE), rows.get_column(OFF), rows.get_column(LEN), strict=True
        ):
            if path not in fds:
                fds[path] = os.open(path, os.O_RDONLY)
            raw.append(os.pread(fds[path], length, off))
    finally:
        for fd in fds.values():
            os.close(fd)
    return rows.with_columns(pl.Series(RAW, raw, dtype=pl.Binary)).drop(LEN)


def empty_rejects() -> pl.DataFrame:
    """A reject frame with no rows (with its detail column, as staged)."""
    return pl.DataFrame(schema={**REJECT_SCHEMA, DETAIL: DETAIL_TYPE})


def rejects_from(
    rows: pl.DataFrame,
    *,
    stage: str,
    rule: str | pl.Expr,
    message: str | pl.Expr,
    item: str | pl.Expr | None = None,
    field: str | pl.Expr | None = None,
    field_start: int | pl.Expr = 0,
    detail: pl.Expr | None = None,
) -> pl.DataFrame:
    """Turn rows that still carry provenance columns into reject rows (vectorised); `detail` (DETAIL_TYPE)
    carries what a report needs to know about each reject."""

    def lit(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, dtype=pl.String)

    start = field_start if isinstance(field_start, pl.Expr) else pl.lit(field_start)
    return rows.select(
        pl.col(FILE).cast(pl.String).alias("file"),
        pl.col(REC).cast(pl.Int64).alias("record"),
        (pl.col(OFF) + start).cast(pl.Int64).alias("byte_offset"),
        pl.col(OFF).cast(pl.Int64).alias("record_offset"),
        pl.lit(stage, dtype=pl.String).alias("stage"),
        lit(rule).alias("rule"),
        lit(item).alias("item"),
        lit(field).alias("field"),
        lit(message).alias("message"),
        pl.col(RAW).alias("raw"),
        (pl.lit(None, dtype=DETAIL_TYPE) if detail is None else detail).alias(DETAIL),
    )


@dataclass(frozen=True)
class Failure:
    """A record a reader could not take: its row in the batch, the field ("" for the whole record), the byte
    offset of the problem within the record, the rule and the message."""

    row: int
    field: str
    byte: int
    rule: str
    message: str


def split_failures(frame: pl.DataFrame, fails: list[Failure]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move the rows named in `fails` out of a read batch, into decode rejects (one per failure)."""
    f = pl.DataFrame(
        {
            "_row": [x.row for x in fails],
            "_field": [x.field for x in fails],
            "_start": [x.byte for x in fails],
            "_rule": [x.rule for x in fails],
            "_message": [x.message for x in fails],
        },
        schema={
            "_row": pl.UInt32,
            "_field": pl.String,
            "_start": pl.Int64,
            "_rule": pl.String,
            "_message": pl.String,
        },
    )
    numbered = frame.with_row_index("_row")
    rejects = rejects_from(
        numbered.join(f, on="_row"),
        stage="decode",
        rule=pl.col("_rule"),
        field=pl.col("_field"),
        field_start=pl.col("_start"),
        message=pl.col("_message"),
    )
    rows = numbered.filter(~pl.col("_row").is_in(f.get_column("_row").unique().implode())).drop("_row")
    return rows, rejects
