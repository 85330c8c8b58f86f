"""Atomic audit outputs (JSON, text, DuckDB COPY) and the masking of personal values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb

from midlayout.pipeline.manifest import write_atomic
from midlayout.sql import literal

MASK = "●●●"


def mask_sql(expr: str, show: bool) -> str:
    """SQL for a value as reports print it: itself with --show-values, else ●●● (NULL stays NULL)."""
    return expr if show else f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE {literal(MASK)} END"


def mask(value: object, show: bool) -> object:
    """A value as reports print it (Python side of `mask_sql`)."""
    return value if show or value is None else MASK


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text through a temp file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON (UTF-8, Japanese kept readable), atomically."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def copy_atomic(con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: str) -> None:
    """COPY a query to Parquet (zstd) or CSV (UTF-8, header) under a temp name, then rename."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    try:
        con.execute(f"COPY ({sql}) TO {literal(temp)} ({options})")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
