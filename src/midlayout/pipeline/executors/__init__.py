"""Executors: what runs a run's pieces (read → map → validate → stage), behind one small interface.

`local` runs them in this process (one worker) or in a pool of threads (default) or spawned processes; `dask`
runs them on a Dask cluster (`--scheduler ADDRESS`) or on a LocalCluster it starts. Either way planning,
lookup tables, cross-file rules, the writers' commit and the manifest stay with the caller: the pipeline
(`batches.Pipeline`) submits tasks, waits for their results in submission order, and does not know which
executor runs them.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from midlayout.errors import UsageError

if TYPE_CHECKING:
    from midlayout.pipeline.batches import BatchRunner, Done, Task
    from midlayout.pipeline.inputs import Job
    from midlayout.pipeline.options import ConvertOptions

EXECUTORS: Final = ("local", "dask")
DASK_HINT: Final = "pip install midlayout[dask]"


class Handle(Protocol):
    """A submitted task: its result (waits; raises what the task raised), or cancel it."""

    def result(self) -> Done: ...
    def cancel(self) -> bool: ...


class Executor(ABC):
    """Runs the pieces of one run. `start` gets the run's runner (its arguments are what a worker needs);
    `submit` returns a handle at once; `in_flight` bounds the tasks pending before the oldest is awaited;
    `in_process` says whether the pieces run in this process (a `Done` may then carry frames, not paths);
    `close` releases everything, pending tasks included; `describe` gives the manifest's executor fields."""

    name: ClassVar[str]
    in_flight: int = 0
    in_process: bool = False  # pieces run in this process (threads included): their rows need not be staged

    @abstractmethod
    def start(self, runner: BatchRunner) -> None: ...

    @abstractmethod
    def submit(self, task: Task) -> Handle: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """{"executor": name, "scheduler": address or None, "workers": how many ran the pieces}."""


def dask_available() -> bool:
    """Whether dask.distributed can be imported (without importing it)."""
    return importlib.util.find_spec("distributed") is not None


def check_executor(name: str, scheduler: str | None) -> None:
    """UsageError (exit 2) for an executor or scheduler a run cannot use."""
    if name not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, not {name!r}")
    if scheduler is not None and name != "dask":
        raise UsageError("--scheduler needs --executor dask")
    if scheduler is not None and not scheduler.strip():
        raise UsageError("--scheduler needs an address, e.g. tcp://host:8786")
    if name == "dask" and not dask_available():
        raise UsageError(f"--executor dask needs Dask distributed: {DASK_HINT}")


def get_executor(name: str, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor called `name`, not started. `workers`: local workers (1: in this process), or the
    LocalCluster's size for dask without a scheduler (None: one per CPU)."""
    check_executor(name, scheduler)
    if name == "dask":
        from midlayout.pipeline.executors.dask import DaskExecutor

        return DaskExecutor(scheduler, workers)
    from midlayout.pipeline.executors.local import LocalExecutor

    return LocalExecutor(workers or 1)


def executor_for(options: ConvertOptions, jobs: list[Job]) -> Executor:
    """The executor a run's options ask for. Local: `--workers` as asked, else one per CPU for large inputs
    (kernels other than `fast` live in this process only)."""
    if options.executor == "local" and not options.workers:
        from midlayout import kernels
        from midlayout.pipeline.batches import auto_workers

        workers = auto_workers(jobs) if options.kernels == kernels.FAST else 1
        return get_executor("local", workers)
    return get_executor(options.executor, options.workers, options.scheduler)


__all__ = [
    "EXECUTORS",
    "Executor",
    "Handle",
    "check_executor",
    "dask_available",
    "executor_for",
    "get_executor",
]
