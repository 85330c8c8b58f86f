"""The local executor's pool: threads in this process (default) or spawned processes
(MIDLAYOUT_LOCAL_POOL=processes) give the same outputs; a value it does not know is a usage error; a stopped
run's threads stop between the steps of a batch instead of finishing it."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from benchmarks.same_outputs import difference
from midlayout.cli import app
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline import batches
from midlayout.pipeline.batches import BatchRunner
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.pipeline.executors import get_executor
from midlayout.pipeline.executors.local import POOL_ENV, LocalExecutor
from midlayout.pipeline.readphase import ReadPhase
from midlayout.rejects import REC
from tests.conftest import MAPPINGS, SAMPLES
from tests.synth import vendor_a


def _convert(out: Path, pool: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(POOL_ENV, pool)
    a = SAMPLES / "vendor_a"
    args = ["convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), str(a / "JUMIN.DAT")]
    args += [str(a / "SETAI.DAT"), "-o", str(out), "-w", "parquet", "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output  # 1: the samples hold a record rejected on purpose
    return result.exit_code


def test_threads_and_processes_give_identical_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _convert(tmp_path / "processes", "processes", monkeypatch) == _convert(
        tmp_path / "threads", "threads", monkeypatch
    )
    assert difference(tmp_path / "processes", tmp_path / "threads") is None
    described = json.loads((tmp_path / "threads" / "manifest.json").read_text(encoding="utf-8"))["executor"]
    assert described == {"executor": "local", "scheduler": None, "workers": 2, "pool": "threads"}


@pytest.mark.parametrize(
    ("value", "pool"),
    [("", ThreadPoolExecutor), ("threads", ThreadPoolExecutor), ("processes", ProcessPoolExecutor)],
)
def test_the_variable_picks_the_pool(monkeypatch: pytest.MonkeyPatch, value: str, pool: type) -> None:
    monkeypatch.setenv(POOL_ENV, value)
    executor = get_executor("local", 2)
    assert isinstance(executor, LocalExecutor)
    assert executor.kind == ("processes" if pool is ProcessPoolExecutor else "threads")
    if pool is ThreadPoolExecutor:  # threads build their runners lazily: no runner needed to start
        executor.start(SimpleNamespace(init_args=()))  # type: ignore[arg-type]
        assert isinstance(executor.pool, pool)
        executor.close()


def test_an_unknown_pool_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOL_ENV, "fibers")
    a = SAMPLES / "vendor_a"
    args = ["convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), str(a / "JUMIN.DAT")]
    args += [str(a / "SETAI.DAT"), "-o", str(tmp_path / "out"), "-w", "parquet", "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "MIDLAYOUT_LOCAL_POOL" in result.output


class _Watched(LocalExecutor):
    """The thread pool, telling the test when the run shuts it down."""

    def __init__(self, shutting: threading.Event) -> None:
        super().__init__(2, pool="threads")
        self.shutting = shutting

    def start(self, runner: BatchRunner) -> None:
        super().start(runner)
        assert self.pool is not None
        shutdown = self.pool.shutdown

        def watched(*args: Any, **kwargs: Any) -> None:
            self.shutting.set()
            shutdown(*args, **kwargs)

        self.pool.shutdown = watched  # type: ignore[method-assign]


def test_an_interrupted_run_stops_a_running_batch_between_its_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a thread validates a later batch: that batch stops after the step it is in (it does not
    stage its rows), no thread outlives the run, and the run's work folder is gone."""
    size = 5
    inputs = [str(p) for p in vendor_a(tmp_path / "in", 6, 1)[:2]]  # JUMIN: 3 batches of 5
    shutting, blocked = threading.Event(), threading.Event()
    staged: list[str] = []
    held: list[int] = []  # the first record of the batch held in its validate step
    get_validator, write_part = batches.get_validator, batches.write_part

    def validator(name: str) -> Any:
        check = get_validator(name)

        def held_at_the_first_later_batch(*args: Any, **kwargs: Any) -> Any:
            first = args[2].get_column(REC).min()
            if first >= size and not held:  # not the first batch, which the main thread waits for
                held.append(first)
                blocked.set()
                assert shutting.wait(60)  # the run is stopping: only now does this step end
            return check(*args, **kwargs)

        return held_at_the_first_later_batch

    def recorded(frame: pl.DataFrame, path: Path) -> None:
        staged.append(path.name)
        write_part(frame, path)

    def interrupted(self: ReadPhase, done: Any) -> None:
        assert blocked.wait(60)
        raise KeyboardInterrupt

    monkeypatch.setattr(batches, "get_validator", validator)
    monkeypatch.setattr(batches, "write_part", recorded)
    monkeypatch.setattr(ReadPhase, "on_done", interrupted)
    out = tmp_path / "out"
    # DuckDB alone: without a Parquet output the rows are staged even in process, which is what this watches
    options = ConvertOptions(("duckdb",), batch_size=size, workers=2)
    mapping = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    with pytest.raises(KeyboardInterrupt):
        convert([mapping], inputs, out, options, executor=_Watched(shutting))
    assert held
    seq = held[0] // size  # the held batch's number (records count from 0 or 1: the same batch)
    rows = [n for n in staged if not n.startswith(("capture", "rejects", "gaiji"))]
    assert any(n.endswith("-0000-000000.parquet") for n in rows), staged  # the first batch was staged...
    assert not any(n.endswith(f"-0000-{seq:06d}.parquet") for n in rows), staged  # ...the held one not
    assert not [t for t in threading.enumerate() if t.name.startswith("midlayout-worker")]
    assert not (out / ".midlayout").exists() and not (out / "manifest.json").exists()
