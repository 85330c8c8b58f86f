"""Do two output folders of `convert` hold identical content (../shared/WAVE2.md)?

Parquet compared as frames (rows, order, types), the standard CSV, fixed-width files, rejects and the
外字/repertoire reports as bytes, DuckDB table by table (definitions and rows in stored order), the manifest
without `timings`, the executor fields and what only says where the run wrote (paths of the outputs, which
differ between two folders). Not a bench_*.py: `make bench` does not run it.

    python -m benchmarks.compare_outputs OUT_A OUT_B    (exit 1 and the differences when they differ)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

# Manifest fields that may differ between two runs of the same content (time spent, where it ran).
VOLATILE = {"timings", "executor", "workers", "started", "finished", "created", "host"}


def _manifest(path: Path) -> Any:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE and k != "absolute_path"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    data = json.loads(path.read_text(encoding="utf-8"))
    for out in data.get("outputs", []):
        out.pop("path", None)  # the output's location; its sha256 and rows stay
        if out.get("writer") == "duckdb":
            out.pop("sha256", None)  # the file's bytes vary by run; `content_sha256` is compared
    return clean(data)


def _duckdb(path: Path) -> dict[str, Any]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY schema_name, table_name"
        ).fetchall()
        found: dict[str, Any] = {}
        for schema, table in tables:
            cols = con.execute(
                "SELECT column_name, data_type, comment FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
            rows = pl.DataFrame(
                pl.from_arrow(con.sql(f'SELECT * FROM "{schema}"."{table}"').to_arrow_table())
            )
            found[f"{schema}.{table}"] = (cols, rows)
    return found


def contents(out: Path) -> dict[str, Any]:
    """Every file of an output folder (the tool's work folder left out), as it is compared."""
    found: dict[str, Any] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and ".midlayout" not in p.parts):
        rel = path.relative_to(out).as_posix()
        if path.suffix == ".parquet":
            found[rel] = pl.read_parquet(path)
        elif path.suffix == ".duckdb":
            found[rel] = _duckdb(path)
        elif path.name == "manifest.json":
            found[rel] = _manifest(path)
        else:
            found[rel] = path.read_bytes()
    return found


def differences(a: Path, b: Path) -> list[str]:
    """What differs between the output folders `a` and `b` (empty: identical content)."""
    ca, cb = contents(a), contents(b)
    diff = [f"only in {a}: {k}" for k in sorted(ca.keys() - cb.keys())]
    diff += [f"only in {b}: {k}" for k in sorted(cb.keys() - ca.keys())]
    for key in sorted(ca.keys() & cb.keys()):
        x, y = ca[key], cb[key]
        if isinstance(x, pl.DataFrame):
            same = x.schema == y.schema and x.equals(y)
        elif isinstance(x, dict) and key.endswith(".duckdb"):
            same = x.keys() == y.keys() and all(
                x[t][0] == y[t][0] and x[t][1].schema == y[t][1].schema and x[t][1].equals(y[t][1]) for t in x
            )
        else:
            same = x == y
        if not same:
            diff.append(f"differs: {key}")
    return diff


def main(argv: list[str]) -> int:
    diff = differences(Path(argv[0]), Path(argv[1]))
    for line in diff:
        print(line)
    print("identical content" if not diff else f"{len(diff)} difference(s)")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
