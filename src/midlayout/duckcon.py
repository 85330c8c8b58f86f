"""Open DuckDB connections one way: with DuckDB's progress bar off.

DuckDB draws a progress bar on the process's stdout (file descriptor 1, past Python's sys.stdout) for any query
that runs longer than two seconds. A content hash, a cross-file check or a reconcile of a large run does, on a
busy machine, and the bar then broke `--json` output and the terminal summary. Every connection the tool opens
goes through `open_duckdb`.
"""

from __future__ import annotations

import duckdb


def open_duckdb(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect` with the progress bar off (a setting of the connection: DuckDB refuses it at connect)."""
    con = duckdb.connect(database, read_only=read_only)
    con.execute("SET enable_progress_bar = false")
    return con
