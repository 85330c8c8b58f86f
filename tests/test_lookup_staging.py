"""Lookup tables: small ones are built in memory (the same table DuckDB builds out of core), and waiting
for a lookup's source leaves the batches of other jobs running."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import polars as pl
import pytest

from midlayout.layout.mapping import Lookup
from midlayout.pipeline import batches
from midlayout.pipeline.batches import Done, Pipeline, stage_lookup_table
from midlayout.pipeline.executors.local import LocalExecutor


def _parts(tmp_path: Path) -> list[Path]:
    frames = [
        pl.DataFrame({"ATENA_NO": ["1", "2", "3", None], "NAME": ["a", "b", "c", "n"]}),
        pl.DataFrame({"ATENA_NO": ["3", "4", None], "NAME": ["c2", "d", "m"]}),  # 3 and null: ambiguous
    ]
    paths = []
    for k, frame in enumerate(frames):
        paths.append(tmp_path / f"capture-{k}.parquet")
        frame.write_parquet(paths[-1])
    return paths


def test_small_lookup_table_in_memory_equals_the_duckdb_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lk = Lookup("jumin", "HEAD_ATENA_NO", "ATENA_NO", "NAME")
    parts = _parts(tmp_path)
    stage_lookup_table(parts, lk, tmp_path / "memory.parquet", tmp_path / "spill", "64MB")
    monkeypatch.setattr(batches, "LOOKUP_IN_MEMORY_ROWS", 0)
    stage_lookup_table(parts, lk, tmp_path / "duckdb.parquet", tmp_path / "spill", "64MB")
    memory = pl.read_parquet(tmp_path / "memory.parquet").sort("ATENA_NO")
    assert memory.equals(pl.read_parquet(tmp_path / "duckdb.parquet").sort("ATENA_NO"))
    assert memory.get_column("ATENA_NO").to_list() == ["1", "2", "4"]


def _done(job: int, seq: int) -> Future[Done]:
    fut: Future[Done] = Future()
    fut.set_result(Done(job, seq, 1, 1, Path(f"{job}-{seq}"), None, None))
    return fut


def test_waiting_for_a_lookup_source_leaves_other_jobs_running() -> None:
    """Before, `_tables_for` drained every pending batch, so no worker had work while the table was built."""
    handled: list[tuple[int, int]] = []
    pipeline = Pipeline(LocalExecutor(1), lambda d: handled.append((d.job, d.seq)))
    for job, seq in [(0, 0), (0, 1), (2, 0), (0, 2), (2, 1), (2, 2)]:
        pipeline.pending.append(_done(job, seq))
        pipeline.pending_jobs.append(job)
    pipeline.drain_jobs({0})
    assert handled == [(0, 0), (0, 1), (2, 0), (0, 2)]  # in submission order, up to the source's last batch
    assert list(pipeline.pending_jobs) == [2, 2] and len(pipeline.pending) == 2
    pipeline.drain()
    assert handled[-2:] == [(2, 1), (2, 2)] and not pipeline.pending_jobs
