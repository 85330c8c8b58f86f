"""The local executor's worker processes exit beside the caller once every task is in (the cross-file rules
and the writers' commit go on meanwhile), and the caller waits for them in `join`; while a task may still
run (a failed run), `close` itself waits, so that nothing writes to the staging area after it is removed."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.pipeline.executors.local import LocalExecutor
from tests.conftest import MAPPINGS, SAMPLES


class _Pool:
    """A pool whose shutdown blocks until `release` is set, recording the thread and the arguments."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def shutdown(self, **kw: Any) -> None:
        self.calls.append((threading.current_thread().name, kw))
        assert self.release.wait(10)


def _executor(done: bool) -> tuple[LocalExecutor, _Pool]:
    ex = LocalExecutor(2, "processes")
    pool = _Pool()
    ex.pool = pool  # type: ignore[assignment]
    future: Future[Any] = Future()
    if done:
        future.set_result(None)
    ex._futures = [future]
    return ex, pool


def test_close_with_every_task_done_does_not_wait_for_the_workers_to_exit() -> None:
    ex, pool = _executor(done=True)
    ex.close()  # returns while the pool is still shutting down
    assert pool.calls == [("midlayout-pool-exit", {"wait": True})]
    pool.release.set()
    ex.join()
    assert ex._closing is None


def test_close_with_a_task_not_done_waits_in_the_callers_thread() -> None:
    ex, pool = _executor(done=False)
    pool.release.set()
    ex.close()
    assert pool.calls == [(threading.current_thread().name, {"wait": True, "cancel_futures": True})]
    ex.join()


def test_convert_returns_with_its_worker_processes_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    joined: list[bool] = []
    join = LocalExecutor.join

    def counted(self: LocalExecutor) -> None:
        joined.append(self._closing is not None)
        join(self)

    monkeypatch.setattr(LocalExecutor, "join", counted)
    a = SAMPLES / "vendor_a"
    convert(
        [load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")],
        [str(a / "JUMIN.DAT"), str(a / "SETAI.DAT")],
        tmp_path / "o",
        ConvertOptions(("parquet",), workers=2, batch_size=7),
    )
    assert joined == [True]  # the pool was left to shut down beside the caller, then waited for
    assert multiprocessing.active_children() == []
