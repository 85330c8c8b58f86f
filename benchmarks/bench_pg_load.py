"""PostgreSQL load throughput: the midlayout writer against a plain `psql \\copy` of the standard CSV.

Both load the same rows of 住民基本台帳 住民 into identical tables (same DDL, primary key included), in the
same run, on the same server. The writer's time covers rendering, COPY into staging, the INSERT into the
target and the bookkeeping; psql's covers parsing the standard CSV (CP932) straight into the table.

    BENCH_PG_ROWS=1000000 BENCH_PG_DSN="host=127.0.0.1 dbname=test user=postgres" .venv/bin/python benchmarks/bench_pg_load.py

Prints one JSON object. Synthetic data only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl
import psycopg
from psycopg import sql

from midlayout.layout.standard import load_layout
from midlayout.writers.postgres import PostgresWriter
from midlayout.writers.postgres.ddl import create_table
from midlayout.writers.standard import StandardCsvWriter

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_PG_ROWS", "100000"))
DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")


def jumin_rows(n: int) -> pl.DataFrame:
    """n synthetic 住民 rows (JIS X 0208 text only, so PostgreSQL's SJIS conversion accepts the CSV too)."""
    i = pl.int_range(1, n + 1, eager=True)
    setai = (i + 2) // 3
    sur = pl.Series(["山田", "佐藤", "鈴木", "田中"]).gather(i % 4)
    giv = pl.Series(["太郎", "花子", "一郎", "桜"]).gather(i % 4)
    return pl.DataFrame(
        {
            "atena_no": i.cast(pl.String).str.zfill(15),
            "setai_no": setai.cast(pl.String).str.zfill(15),
            "kisai_juni": ((i - 1) % 3 + 1).cast(pl.Int64),
            "shimei": sur + "　" + giv,
            "shimei_kana": pl.Series(["ヤマダ タロウ"] * n),
            "kyushi": pl.Series([None] * n, dtype=pl.String),
            "kyushi_kana": pl.Series([None] * n, dtype=pl.String),
            "seinengappi": pl.date_range(pl.date(1950, 1, 1), pl.date(1950, 1, 1), eager=True).gather(
                [0] * n
            ),
            "seinengappi_fusho": pl.Series([False] * n),
            "seibetsu": ((i % 2) + 1).cast(pl.String),
            "zokugara": pl.Series(["02", "12", "20"]).gather((i - 1) % 3),
            "jumin_shubetsu": pl.Series(["1"] * n),
            "jumin_jotai": pl.Series(["1"] * n),
            "yubin_no": pl.Series(["1234567"] * n),
            "jusho": "架空県架空市中央町" + setai.cast(pl.String) + "番地",
            "katagaki": pl.Series([None] * n, dtype=pl.String),
            "ido_jiyu": pl.Series(["01"] * n),
            "ido_ymd": pl.Series([None] * n, dtype=pl.Date),
        }
    )


def main() -> None:
    layout = load_layout(ROOT / "layouts" / "chukan" / "juki" / "2.5.yaml")
    file = layout.file("jumin")
    rows = jumin_rows(ROWS)
    prefix = f"bench_{secrets.token_hex(3)}_"
    conn = psycopg.connect(DSN, autocommit=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            writer = PostgresWriter(
                Path(tmp),
                {"dsn": DSN, "schema_prefix": prefix, "meta_schema": prefix + "meta", "mode": "create"},
                load_id=f"bench-{prefix}",
            )
            writer.start(layout, file)
            for start in range(0, rows.height, 100_000):
                writer.write(layout, file, rows.slice(start, 100_000))
            writer.prepare()
            writer.commit()
            t_writer = time.perf_counter() - t0

            csv = StandardCsvWriter(Path(tmp))
            csv.start(layout, file)
            csv.write(layout, file, rows)
            path = Path(csv.commit()[0].path)
            csv_bytes = path.stat().st_size
            schema = prefix + "psql"
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            conn.execute(create_table(schema, "jumin", file))
            params = psycopg.conninfo.conninfo_to_dict(DSN)
            args = [
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-d",
                psycopg.conninfo.make_conninfo(**params),
                "-c",
                f"\\copy \"{schema}\".jumin FROM '{path}' WITH (FORMAT csv, HEADER true, ENCODING 'SJIS')",
            ]
            t0 = time.perf_counter()
            subprocess.run(args, check=True)
            t_psql = time.perf_counter() - t0
        counts = [
            conn.execute(sql.SQL("SELECT count(*) FROM {}.jumin").format(sql.Identifier(s))).fetchone()[0]  # type: ignore[index]
            for s in (prefix + "juki", schema)
        ]
        assert counts == [ROWS, ROWS], counts
        print(
            json.dumps(
                {
                    "rows": ROWS,
                    "csv_bytes": csv_bytes,
                    "midlayout_postgres_s": round(t_writer, 3),
                    "midlayout_rows_per_s": round(ROWS / t_writer),
                    "psql_copy_s": round(t_psql, 3),
                    "psql_rows_per_s": round(ROWS / t_psql),
                    "ratio_vs_psql": round((ROWS / t_writer) / (ROWS / t_psql), 3),
                },
                indent=2,
            )
        )
    finally:
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [prefix]
        ).fetchall():
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.close()


if __name__ == "__main__":
    main()
