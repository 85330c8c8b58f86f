"""Benchmark `midlayout diff` against a bare DuckDB full outer join (+ column comparison) on the same key.

Rows: $MIDLAYOUT_BENCH_ROWS (default 10,000,000; use 100000 for a quick run). Both sides are Parquet files in the
個人住民税 課税 layout, generated with DuckDB SQL (range() + hash-derived amounts). Each phase runs in its own
process so that its peak RSS (ru_maxrss) is its own. Prints seconds, the ratio diff/baseline and peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from midlayout.audit.diff import DiffOptions, diff
from midlayout.audit.inputs import locate
from midlayout.audit.reconcile import amount_items
from midlayout.layout.registry import resolve

ROWS = int(os.environ.get("MIDLAYOUT_BENCH_ROWS", "10000000"))
MEMORY = os.environ.get("MIDLAYOUT_BENCH_MEMORY", "2GB")
KAZEI_LAYOUT = resolve("chukan/kojin_juminzei@2.5")
AMOUNTS = [it.id for it in amount_items(KAZEI_LAYOUT.file("kazei"))]
ITEMS = ["kazei_kubun", "choshu_kubun", *AMOUNTS]


def _rows_sql(n: int, changed: bool) -> str:
    amounts = ", ".join(
        f"(hash(i, {k}) % 100000000)::BIGINT"
        + (" + CASE WHEN i % 100 = 3 THEN 1 ELSE 0 END" if changed and a == "zeigaku" else "")
        + f" AS {a}"
        for k, a in enumerate(AMOUNTS)
    )
    return (
        f"SELECT 2024::BIGINT AS kazei_nendo, lpad(i::VARCHAR, 15, '0') AS atena_no, "
        f"(1 + i % 3)::VARCHAR AS kazei_kubun, (1 + i % 2)::VARCHAR AS choshu_kubun, {amounts} FROM range({n}) t(i)"
    )


def generate(folder: Path) -> dict[str, int]:
    """before: ROWS rows. after: every 1000th removed, ROWS/1000 added, 1% zeigaku +1, every 10000th duplicated."""
    con = duckdb.connect()
    con.execute(
        f"COPY ({_rows_sql(ROWS, False)}) TO '{folder}/before.parquet' (FORMAT parquet, COMPRESSION zstd)"
    )
    after = f"SELECT * FROM ({_rows_sql(ROWS + ROWS // 1000, True)}) WHERE i % 1000 <> 7"
    after = after.replace("FROM range", ", i FROM range")
    con.execute(f"""COPY (WITH x AS ({after}) SELECT * EXCLUDE (i) FROM x UNION ALL
                SELECT * EXCLUDE (i) FROM x WHERE i % 10000 = 5 AND i < {ROWS})
                TO '{folder}/after.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    return {
        "before": ROWS,
        "after": con.execute(f"SELECT count(*) FROM '{folder}/after.parquet'").fetchone()[0],
    }


def baseline(folder: Path) -> dict[str, object]:
    """A bare full outer join on the key, comparing every column: the least any keyed diff must do."""
    con = duckdb.connect()
    con.execute(
        f"SET memory_limit = '{MEMORY}'; SET temp_directory = '{folder}/spill'; SET preserve_insertion_order = false"
    )
    differs = " OR ".join(f"b.{c} IS DISTINCT FROM a.{c}" for c in ITEMS)
    sql = (
        f"SELECT count(*) FROM '{folder}/before.parquet' b FULL OUTER JOIN '{folder}/after.parquet' a "
        f"ON b.kazei_nendo = a.kazei_nendo AND b.atena_no = a.atena_no "
        f"WHERE b.atena_no IS NULL OR a.atena_no IS NULL OR {differs}"
    )
    return {"rows_not_unchanged": con.execute(sql).fetchone()[0]}


def midlayout_diff(folder: Path) -> dict[str, object]:
    """`midlayout diff` through the library, details written to Parquet."""
    before = locate(str(folder / "before.parquet"), KAZEI_LAYOUT)
    after = locate(str(folder / "after.parquet"), KAZEI_LAYOUT)
    summary = diff(before, after, DiffOptions(memory_limit=MEMORY), folder / "diff-out").summary
    return {"counts": summary["counts"]}


def _phase(name: str, folder: Path) -> None:
    start = time.perf_counter()
    result = {"baseline": baseline, "diff": midlayout_diff}[name](folder)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"phase": name, "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib), **result})
    )


def _run(name: str, folder: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, name, str(folder)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="midlayout-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        sizes = generate(folder)
        mib = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
        print(
            f"generated {sizes['before']:,} vs {sizes['after']:,} rows ({mib:,.0f} MiB Parquet) "
            f"in {time.perf_counter() - t0:.1f}s; memory_limit={MEMORY}, threads={os.cpu_count()}"
        )
        base, ours = _run("baseline", folder), _run("diff", folder)
        print(
            f"bare DuckDB full outer join + compare: {base['seconds']:.2f}s, peak RSS {base['peak_rss_mib']} MiB"
        )
        print(
            f"midlayout diff (with details + sha256): {ours['seconds']:.2f}s, peak RSS {ours['peak_rss_mib']} MiB"
        )
        print(f"counts: {ours['counts']}")
        print(f"ratio diff/baseline: {ours['seconds'] / base['seconds']:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _phase(sys.argv[1], Path(sys.argv[2]))
    else:
        main()
