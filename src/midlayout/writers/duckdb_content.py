"""A content hash of a DuckDB database: its tables, columns and rows, not its file bytes.

Two clean runs of the same data give DuckDB files that differ in header bytes, so the file's sha256 proves a
file unchanged but cannot be reproduced by a rerun. This hash can: it covers each table (sorted by schema
and name) with its columns (name, type, comment) and its rows in stored order, rendered as CSV.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa

from midlayout.duckcon import open_duckdb
from midlayout.sql import ident

BATCH_ROWS = 100_000


def _rendered(batch: pa.RecordBatch) -> bytes:
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame.write_csv(include_header=False).encode("utf-8")


def content_sha256(path: Path) -> str:
    """sha256 over every table's definition and rows (read-only; rows streamed in batches, rendered side by
    side in threads, hashed in order)."""
    h = hashlib.sha256()
    con = open_duckdb(str(path), read_only=True)
    threads = os.cpu_count() or 1
    pool = ThreadPoolExecutor(threads, thread_name_prefix="midlayout-content")
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY schema_name, table_name"
        ).fetchall()
        for schema, table in tables:
            cols = con.execute(
                "SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
            h.update(f"table {schema}.{table}\n".encode())
            for name, typ, comment in cols:
                h.update(f"column {name} {typ} {comment}\n".encode())
            reader = con.sql(f"SELECT * FROM {ident(schema)}.{ident(table)}").to_arrow_reader(BATCH_ROWS)
            rendering: deque[Future[bytes]] = deque()  # at most two batches per thread in memory
            for batch in reader:
                rendering.append(pool.submit(_rendered, batch))
                if len(rendering) > 2 * threads:
                    h.update(rendering.popleft().result())
            while rendering:
                h.update(rendering.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        con.close()
    return h.hexdigest()
