"""The local executor: the pieces in this process (one worker), or over a pool of spawned processes."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from midlayout import kernels
from midlayout.pipeline.batches import WORKER_ENV, BatchRunner, Done, Task
from midlayout.pipeline.executors import Executor, Handle


class _Ran:
    """The handle of a task run at once, in this process."""

    def __init__(self, done: Done) -> None:
        self._done = done

    def result(self) -> Done:
        return self._done

    def cancel(self) -> bool:
        return False


class LocalExecutor(Executor):
    """`workers` = 1: each task runs when submitted (nothing in flight); more: a spawn process pool, each
    process with its own runner, at most two tasks per process in flight."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.in_flight = 0 if workers <= 1 else 2 * workers
        self.runner: BatchRunner | None = None
        self.pool: ProcessPoolExecutor | None = None

    def start(self, runner: BatchRunner) -> None:
        self.runner = runner
        if self.workers <= 1:
            return
        for name, value in WORKER_ENV.items():
            os.environ.setdefault(name, value)
        # spawn: a forked child would inherit polars' thread pool in an unusable state.
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=runner.init_args,
        )

    def submit(self, task: Task) -> Handle:
        if self.pool is None:
            assert self.runner is not None, "start the executor first"
            return _Ran(self.runner.run(task))
        future: Future[Done] = self.pool.submit(_run_in_worker, task)
        return future

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "scheduler": None, "workers": self.workers}


_RUNNER: list[BatchRunner] = []  # the worker process's runner


def _init_worker(*init_args: Any) -> None:
    from midlayout.pipeline.procs import die_with_parent

    die_with_parent()
    kernels.activate(init_args[5])  # the kernels name, before anything is built
    _RUNNER[:] = [BatchRunner(*init_args)]


def _run_in_worker(task: Task) -> Done:
    return _RUNNER[0].run(task)
