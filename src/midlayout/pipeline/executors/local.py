"""The local executor: the pieces in this process (one worker), or over a pool of N workers.

The pool is a thread pool in this process (default; `MIDLAYOUT_LOCAL_POOL=threads`): each thread builds its
own runner, as a worker process would (the runner's caches are plain dicts), and the heavy work (polars,
pyarrow, the numba kernels compiled `nogil=True`) releases the GIL. It saves each worker's interpreter,
imports and kernel load and the pickling of results (BENCHMARKS.md, "Threads by default").
`MIDLAYOUT_LOCAL_POOL=processes` runs them in spawned worker processes instead, as before.

A thread cannot be killed, so an interrupted run (Ctrl-C, SIGTERM, an error) sets the pool's cancel flag:
each running batch stops at its next step (read, map, validate, stage; `BatchRunner.checkpoint`) and pending
batches are cancelled, so the run ends within one step of a batch instead of after whole batches.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Executor as _Pool
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Final

from midlayout import kernels
from midlayout.errors import UsageError
from midlayout.pipeline.batches import WORKER_ENV, BatchRunner, Done, Task
from midlayout.pipeline.executors import Executor, Handle

POOL_ENV: Final = "MIDLAYOUT_LOCAL_POOL"
POOLS: Final = ("processes", "threads")


DEFAULT_POOL: Final = "threads"


def pool_kind() -> str:
    """`threads` or `processes`, from MIDLAYOUT_LOCAL_POOL (unset: threads)."""
    kind = os.environ.get(POOL_ENV, "").strip() or DEFAULT_POOL
    if kind not in POOLS:
        raise UsageError(f"{POOL_ENV} must be one of {', '.join(POOLS)}, not {kind!r}")
    return kind


class _Ran:
    """The handle of a task run at once, in this process."""

    def __init__(self, done: Done) -> None:
        self._done = done

    def result(self) -> Done:
        return self._done

    def cancel(self) -> bool:
        return False


class LocalExecutor(Executor):
    """`workers` = 1: each task runs when submitted (nothing in flight); more: a thread pool, each thread
    with its own runner (or, `pool="processes"`, a spawn process pool, each process with its own runner), at
    most two tasks per worker in flight."""

    name = "local"

    def __init__(self, workers: int = 1, pool: str | None = None) -> None:
        self.workers = workers
        self.kind = pool or pool_kind()
        self.in_flight = 0 if workers <= 1 else 2 * workers
        self.in_process = workers <= 1 or self.kind == "threads"
        self.runner: BatchRunner | None = None
        self.pool: _Pool | None = None
        self._local = threading.local()
        self._cancel = threading.Event()  # set by close(): running threads stop at their next step

    def start(self, runner: BatchRunner) -> None:
        self.runner = runner
        if self.workers <= 1:
            return
        if self.kind == "threads":
            self._init_args: tuple[Any, ...] = runner.init_args  # what each thread builds its runner from
            self._cancel.clear()
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="midlayout-worker")
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
        if self.kind == "threads":
            threaded: Future[Done] = self.pool.submit(self._run_in_thread, task)
            return threaded
        future: Future[Done] = self.pool.submit(_run_in_worker, task)
        return future

    def _run_in_thread(self, task: Task) -> Done:
        runner: BatchRunner | None = getattr(self._local, "runner", None)
        if runner is None:
            runner = self._local.runner = BatchRunner(*self._init_args)
            runner.cancelled = self._cancel
        return runner.run(task)

    def close(self) -> None:
        """Stop the pool. Threads: what still runs stops at its next step (after a complete run nothing
        does), pending tasks are cancelled, and this waits for the threads, so that nothing writes to the
        stage folder once the caller removes it."""
        if self.pool is not None:
            self._cancel.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"executor": self.name, "scheduler": None, "workers": self.workers}
        if self.workers > 1:
            out["pool"] = self.kind  # information, like the rest of this section: not the run's identity
        return out


_RUNNER: list[BatchRunner] = []  # the worker process's runner


def _init_worker(*init_args: Any) -> None:
    from midlayout.pipeline.procs import die_with_parent

    die_with_parent()
    kernels.activate(init_args[5])  # the kernels name, before anything is built
    _RUNNER[:] = [BatchRunner(*init_args)]


def _run_in_worker(task: Task) -> Done:
    return _RUNNER[0].run(task)
