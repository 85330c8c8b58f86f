"""Summarise a rejects.parquet (from convert or validate) by reason, by item and by file, for the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from midlayout.audit.outputs import mask
from midlayout.errors import InputError, Location
from midlayout.layout.model import Layout
from midlayout.layout.standard import sha256_file
from midlayout.rejects import REJECT_SCHEMA

SAMPLE_ROWS = 100


def read_rejects(path: Path) -> pl.LazyFrame:
    """The rejects file, lazily; InputError when it is missing or not in the reject shape."""
    if not path.is_file():
        raise InputError("rejects file not found", Location(file=str(path)))
    try:
        frame = pl.scan_parquet(path)
        names = frame.collect_schema().names()
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", Location(file=str(path))) from None
    missing = [c for c in REJECT_SCHEMA if c not in ("raw", "record_offset") and c not in names]
    if missing:
        raise InputError(f"not a rejects file: missing columns {missing}", Location(file=str(path)))
    return frame


def _item_names(layouts: list[Layout]) -> dict[str, str]:
    return {it.id: it.name for lay in layouts for f in lay.files for it in f.items}


def _counts(frame: pl.LazyFrame, by: list[str]) -> list[dict[str, Any]]:
    grouped = (
        frame.group_by(by)
        .agg(pl.len().alias("count"))
        .sort(["count", *by], descending=[True, *[False] * len(by)])
    )
    return grouped.collect().to_dicts()


# Validate-stage messages are built from the layout alone (項目名称 and the rule), except these, which name
# a character of the value. Every other message (decode, 外字, map, cross-file) can quote a value of the
# record (a bad 和暦 date, an unmapped vendor code, a byte sequence), so it is masked unless `show_values`.
VALUE_RULES = frozenset({"repertoire"})


def message_holds_value(stage: str | None, rule: str | None) -> bool:
    """Whether a reject's message may quote a value of its record (and so is masked in samples)."""
    return stage != "validate" or rule in VALUE_RULES


def summarise(path: Path, layouts: list[Layout] | None = None, show_values: bool = False) -> dict[str, Any]:
    """Counts by reason (stage/rule), by item (with 項目名称) and by file, plus located samples.

    Messages can quote a value (a bad date, say), so samples mask them unless `show_values`.
    """
    frame = read_rejects(path)
    if "record_offset" not in frame.collect_schema().names():  # written before record_offset existed
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("record_offset"))
    frame = frame.select([c for c in REJECT_SCHEMA if c != "raw"])
    names = _item_names(layouts or [])
    totals = (
        frame.select(pl.len().alias("rows"), pl.struct("file", "record").n_unique().alias("records"))
        .collect()
        .row(0)
    )
    by_item = _counts(frame.with_columns(pl.col("item").fill_null("")), ["item"])
    samples = frame.sort("file", "record").head(SAMPLE_ROWS).collect().to_dicts()
    for r in samples:
        r["item_name"] = names.get(r["item"] or "", r["item"] or "")
        if message_holds_value(r["stage"], r["rule"]):  # masking the others would only hide the reason
            r["message"] = mask(r["message"], show_values)
    return {
        "command": "rejects-report",
        "path": str(path),
        "sha256": sha256_file(path),
        "rows": totals[0],
        "records": totals[1],
        "by_rule": _counts(frame, ["stage", "rule"]),
        "by_item": [{**r, "item_name": names.get(r["item"], r["item"])} for r in by_item],
        "by_file": _counts(frame, ["file"]),
        "samples": samples,
    }
