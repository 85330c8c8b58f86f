"""Rows not staged when the batches run in this process (#14): `--workers 1` and the thread pool hand each
batch's frame to the writers and keep only its key columns, while worker processes (and Dask, in
test_dask_executor.py) still stage every batch as a Parquet part; a target the cross-file rules reject rows
from is rebuilt from the streamed Parquet file into the same content, and the same Parquet bytes, as from
staged parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks.same_outputs import _duckdb_diff, _manifest, _strip
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline import batches, staging
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.pipeline.executors.local import POOL_ENV
from midlayout.pipeline.session import WriterSession
from midlayout.pipeline.staging import Stage
from tests.conftest import MAPPINGS, SAMPLES
from tests.test_streaming_writes import assert_identical

WRITERS = ("parquet", "duckdb", "standard", "fixed")
MAPS = [MAPPINGS / "vendor_a" / n for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]
INPUTS = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
ROW_STEMS = ("chukan_juki__", "chukan_kojin_juminzei__")  # staged row parts are named after their target


class Spy:
    """What the stage received (a path or a frame per batch), the parts the runner wrote in this process,
    and the targets written again after the cross-file rules."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows: list[Path | pl.DataFrame] = []
        self.existed: list[bool] = []
        self.written: list[str] = []
        self.rewritten: list[str] = []
        add, write_part, write = Stage.add, batches.write_part, WriterSession.write

        def spy_add(stage: Stage, target: str, done: batches.Done) -> None:
            self.rows.append(done.rows)
            self.existed.append(isinstance(done.rows, Path) and done.rows.is_file())
            add(stage, target, done)

        def spy_write_part(frame: pl.DataFrame, path: Path) -> None:
            self.written.append(path.name)
            write_part(frame, path)

        def spy_write(session: WriterSession, *a: Any) -> pl.DataFrame:
            out = write(session, *a)
            self.rewritten += session.rewritten
            return out

        monkeypatch.setattr(Stage, "add", spy_add)
        monkeypatch.setattr(batches, "write_part", spy_write_part)
        monkeypatch.setattr(WriterSession, "write", spy_write)


def _run(out: Path, workers: int, batch: int = 7, **kw: Any) -> None:
    options = ConvertOptions(WRITERS, batch_size=batch, workers=workers, **kw)
    convert([load_mapping(m) for m in MAPS], INPUTS, out, options)


@pytest.mark.parametrize("pool", ["in this process", "threads"])
def test_in_process_no_row_part_is_staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: str) -> None:
    workers = 1 if pool == "in this process" else 2
    monkeypatch.setenv(POOL_ENV, "threads")
    spy = Spy(monkeypatch)
    _run(tmp_path / "out", workers)
    assert len(spy.rows) > 6 and all(isinstance(r, pl.DataFrame) for r in spy.rows)
    assert not [n for n in spy.written if n.startswith(ROW_STEMS)]
    assert [n for n in spy.written if n.startswith("rejects-")]  # rejects are still staged (they are few)
    assert sorted(spy.rewritten) == ["chukan/juki:jumin", "chukan/juki:setai", "chukan/kojin_juminzei:kazei"]


def test_worker_processes_still_stage_every_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOL_ENV, "processes")
    spy = Spy(monkeypatch)
    _run(tmp_path / "out", 2)
    assert len(spy.rows) > 6 and all(spy.existed)  # each a staged part on disk, written by a worker


def test_a_partitioned_parquet_target_is_staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its rows cannot be read back in order from a partitioned folder: that target's batches are staged,
    the others' are not, and the outputs equal the processes' (every batch staged)."""
    spy = Spy(monkeypatch)
    parquet = {"parquet": {"partition_by": "zokugara"}}  # an item of jumin only
    _run(tmp_path / "in-process", 1, writer_options=parquet)
    staged = {n.rsplit("-", 2)[0] for n in spy.written if n.startswith(ROW_STEMS)}
    assert staged == {"chukan_juki__jumin"}
    monkeypatch.setenv(POOL_ENV, "processes")
    _run(tmp_path / "processes", 2, writer_options=parquet)
    a, b = tmp_path / "in-process", tmp_path / "processes"
    files = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert any("zokugara=" in f for f in files)
    for rel in files:  # (benchmarks/same_outputs.py compares single files, not partitioned folders)
        if rel == "manifest.json":
            assert _strip(_manifest(a)) == _strip(_manifest(b))
        elif rel.endswith(".duckdb"):
            assert _duckdb_diff(a / rel, b / rel) is None
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.mark.parametrize("keys", ["in memory", "on disk"])
def test_crossfile_rewrite_in_process_equals_staged_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    """The trap samples reject across files from every target: in process each is rebuilt from the Parquet
    writer's file (with the key columns in memory, or sent to disk as over the memory budget); with worker
    processes from its staged parts. Same content, same Parquet bytes."""
    if keys == "on disk":
        monkeypatch.setattr(staging, "KEYS_IN_MEMORY_BYTES", 0)
    with monkeypatch.context() as mp:
        spy = Spy(mp)
        _run(tmp_path / "in-process", 1)
    assert all(isinstance(r, pl.DataFrame) for r in spy.rows) and len(spy.rewritten) == 3
    monkeypatch.setenv(POOL_ENV, "threads")
    _run(tmp_path / "threads", 2)
    monkeypatch.setenv(POOL_ENV, "processes")
    _run(tmp_path / "processes", 2)
    assert_identical(tmp_path / "processes", tmp_path / "in-process")
    assert_identical(tmp_path / "processes", tmp_path / "threads")
