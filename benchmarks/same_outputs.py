"""Do two output folders of `convert` hold identical content? (`make demo-dask`, `bench_dask.py`)

"Identical content" as the shared decisions define it: every file of the manifest's `output_set` is in both
folders; Parquet is compared as frames (columns, types, rows, order); the standard CSV, `rejects.csv` and the
外字/repertoire reports as bytes; `midlayout.duckdb` table by table (schema, then rows); the manifest without
`timings`, the executor fields (executor, scheduler, worker count) and the paths, which depend on where each
folder lies (what a path names is pinned by the sha256 beside it). Files outside the output set (a
reconcile certificate, say) are not compared.

    python -m benchmarks.same_outputs FOLDER_A FOLDER_B [FOLDER_A2 FOLDER_B2 …]

Prints one line per pair; exit 0 when every pair matches, 1 otherwise (naming the first difference).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Manifest keys that may differ between two runs of the same content: the run's timings, which executor ran
# it (and where, with how many workers), and paths (relative to each manifest's folder, or absolute).
VOLATILE = {"timings", "executor", "scheduler", "workers", "worker_count", "path", "absolute_path"}
# Outputs compared by content, not by file hash: Parquet (row groups may split differently) and DuckDB.
BY_CONTENT = (".parquet", ".duckdb")


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _strip(value: Any, key: str = "") -> Any:
    """The manifest without volatile keys; outputs compared by content lose their file hash too."""
    if isinstance(value, dict):
        by_content = str(value.get("path", "")).endswith(BY_CONTENT)
        return {
            k: _strip(v, k)
            for k, v in value.items()
            if k not in VOLATILE and not (by_content and k == "sha256")
        }
    if isinstance(value, list):
        return [_strip(v, key) for v in value]
    return value


def _first_diff(a: Any, b: Any, where: str = "manifest") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            if k not in a or k not in b:
                return f"{where}.{k}: only in {'the first' if k in a else 'the second'}"
            if a[k] != b[k]:
                return _first_diff(a[k], b[k], f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} against {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_diff(x, y, f"{where}[{i}]")
    return f"{where} differs"


def _duckdb_diff(a: Path, b: Path) -> str | None:
    import duckdb

    def tables(path: Path) -> tuple[duckdb.DuckDBPyConnection, list[tuple[str, str]]]:
        con = duckdb.connect(str(path), read_only=True)
        rows = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY schema_name, table_name"
        ).fetchall()
        return con, [(str(s), str(t)) for s, t in rows]

    ca, ta = tables(a)
    cb, tb = tables(b)
    try:
        if ta != tb:
            return f"{a.name}: tables {ta} against {tb}"
        columns = (
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ? ORDER BY column_index"
        )
        for schema, table in ta:
            if (
                ca.execute(columns, [schema, table]).fetchall()
                != cb.execute(columns, [schema, table]).fetchall()
            ):
                return f"{a.name}: {schema}.{table} has another schema"
            query = f'SELECT * FROM "{schema}"."{table}"'  # rows in stored order: the order is content too
            if ca.execute(query).fetchall() != cb.execute(query).fetchall():
                return f"{a.name}: {schema}.{table} holds other rows"
    finally:
        ca.close()
        cb.close()
    return None


def difference(a: Path, b: Path) -> str | None:
    """None when the two output folders hold identical content, else the first difference in one line."""
    import polars as pl

    for folder in (a, b):
        if not (folder / "manifest.json").is_file():
            return f"{folder}: no manifest.json (the run did not complete)"
    ma, mb = _manifest(a), _manifest(b)
    if ma.get("output_set") != mb.get("output_set"):
        return f"output sets differ: {ma.get('output_set')} against {mb.get('output_set')}"
    for name in ma.get("output_set", []):
        fa, fb = a / name, b / name
        if not fa.is_file() or not fb.is_file():
            return f"{name}: missing from {a if not fa.is_file() else b}"
        if name.endswith(".parquet"):
            da, db = pl.read_parquet(fa), pl.read_parquet(fb)
            if da.schema != db.schema:
                return f"{name}: schema {da.schema} against {db.schema}"
            if not da.equals(db, null_equal=True):
                return f"{name}: other rows (or another order): {da.height} against {db.height}"
        elif name.endswith(".duckdb"):
            found = _duckdb_diff(fa, fb)
            if found:
                return found
        elif fa.read_bytes() != fb.read_bytes():
            return f"{name}: bytes differ"
    sa, sb = _strip(ma), _strip(mb)
    if sa != sb:
        return _first_diff(sa, sb)
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    failed = 0
    for first, second in zip(argv[::2], argv[1::2], strict=True):
        found = difference(Path(first), Path(second))
        if found:
            failed = 1
            print(f"DIFFERENT {first} {second}: {found}")
        else:
            print(f"same content: {first} = {second}")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
