"""MIDLAYOUT_LOCAL_POOL=threads (experimental): the local executor's pieces over a thread pool in this process
give the same outputs as the spawned process pool; a value it does not know is a usage error."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from benchmarks.same_outputs import difference
from midlayout.cli import app
from midlayout.pipeline.executors import get_executor
from midlayout.pipeline.executors.local import POOL_ENV, LocalExecutor
from tests.conftest import MAPPINGS, SAMPLES


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


@pytest.mark.parametrize(("value", "pool"), [("threads", ThreadPoolExecutor), ("", ProcessPoolExecutor)])
def test_the_variable_picks_the_pool(monkeypatch: pytest.MonkeyPatch, value: str, pool: type) -> None:
    monkeypatch.setenv(POOL_ENV, value)
    executor = get_executor("local", 2)
    assert isinstance(executor, LocalExecutor)
    executor.pool = None
    if value == "threads":
        executor.start(SimpleNamespace(init_args=()))  # type: ignore[arg-type]  # threads build runners lazily
        assert isinstance(executor.pool, pool)
        executor.close()
    else:
        assert executor.kind == "processes"


def test_an_unknown_pool_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOL_ENV, "fibers")
    a = SAMPLES / "vendor_a"
    args = ["convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), str(a / "JUMIN.DAT")]
    args += [str(a / "SETAI.DAT"), "-o", str(tmp_path / "out"), "-w", "parquet", "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "MIDLAYOUT_LOCAL_POOL" in result.output
