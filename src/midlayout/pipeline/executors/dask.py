"""The dask executor: the pieces of a run on a Dask cluster (`--scheduler ADDRESS`) or on a LocalCluster.

Inputs, the stage folder and the outputs must be on a filesystem every worker sees (NFS, a shared volume),
at the same paths: a worker reads its piece of an input and writes its staged parts itself, as a local
worker process does, in the client's working folder (relative input paths mean the same everywhere, and
rejects name inputs as the client named them). Before the first piece, every worker checks that it can
enter that folder, read every input (at the size the client sees) and create a file in the stage folder;
a worker that cannot is exit 2 naming it and the path.

Each worker builds one `BatchRunner` per run, from the run's arguments scattered to every worker once
(keyed by a run token, in a module-level cache), not sent with each task. Tasks have keys fixed by the
run token, job and piece: a piece whose worker dies is run again on another (the scheduler's
`allowed-failures`), rewriting the same staged part paths (each written through a temp file and a rename).
A scheduler lost mid-run is exit 3 with one line; nothing was committed, and a rerun succeeds.

Dask is imported only when this executor is chosen (`pip install midlayout[dask]`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError as FuturesCancelledError
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from midlayout import kernels
from midlayout.errors import InputError, MidlayoutError, UsageError
from midlayout.pipeline.batches import WORKER_ENV, BatchRunner, Done, Task
from midlayout.pipeline.executors import Executor, Handle
from midlayout.pipeline.faults import ENV as FAULT_ENV
from midlayout.pipeline.faults import numbered

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

CONNECT_TIMEOUT: Final = "30s"  # reaching a scheduler given by --scheduler
WORKERS_TIMEOUT: Final = 60.0  # seconds to wait for a first worker on a scheduler that has none
ALLOWED_FAILURES: Final = (
    2  # times a piece may lose its worker before the run fails (a LocalCluster's scheduler)
)
RETRIES: Final = 2  # times a piece that raised an unexpected error (not bad input) is run again
CLOSE_TIMEOUT: Final = 10  # seconds for closing the client and the LocalCluster


class ExecutorLost(MidlayoutError):
    """The cluster went away mid-run: nothing was committed (exit 3, like any internal failure)."""

    exit_code = 3


class _Failed:
    """A piece that raised a midlayout error (bad input): returned, not raised, so dask does not retry it."""

    def __init__(self, error: MidlayoutError) -> None:
        self.error = error


class _DaskHandle:
    def __init__(self, executor: DaskExecutor, future: Future, task: Task) -> None:
        self.executor, self.future, self.task = executor, future, task

    def result(self) -> Done:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        ex = self.executor
        try:
            out = self.future.result()
        except (FutureCancelledError, FuturesCancelledError) as exc:  # the client lost the scheduler
            if ex.closing:
                raise
            raise ex.lost() from exc
        except KilledWorker as exc:
            raise ExecutorLost(
                f"internal error: dask workers died running piece {self.task.seq} of input {self.task.job} "
                f"more often than allowed; nothing was committed, rerun ({type(exc).__name__})"
            ) from None
        except OSError as exc:  # the piece's own error, or the connection's (CommClosedError)
            if self.future.status == "error" or ex.closing:
                raise
            raise ex.lost() from exc
        if isinstance(out, _Failed):
            raise out.error
        ex.handled += 1
        if ex.handled == ex.kill_scheduler_after:
            ex.kill_scheduler()
        return out  # type: ignore[no-any-return]

    def cancel(self) -> bool:
        if self.executor.closing or self.executor.client is None or self.executor.client.status != "running":
            return False
        self.future.cancel()
        return True


class DaskExecutor(Executor):
    """Pieces as Dask futures, at most two per worker in flight. `scheduler`: a cluster's address (its
    workers as they are); None: a LocalCluster of `workers` processes (one thread each: the codecs hold the
    GIL), closed at the end. `client`: an existing client to share (not closed here)."""

    name = "dask"

    def __init__(
        self, scheduler: str | None = None, workers: int | None = None, client: Client | None = None
    ):
        self.scheduler, self.workers = scheduler, workers
        self.client: Client | None = client
        self.own_client = client is None
        self.cluster: LocalCluster | None = None
        self.token = uuid.uuid4().hex[:16]
        self.init: Future | None = None
        self.handled = 0
        self.kill_scheduler_after: int | None = None
        self.closing = False
        self.was_lost = False
        self.address = scheduler or ""

    # --- start: the cluster, the planner checks, the run's arguments on every worker ---

    def start(self, runner: BatchRunner) -> None:
        import dask
        import distributed  # noqa: F401 - loads its config before the override below

        for name, value in WORKER_ENV.items():  # inherited by a LocalCluster's worker processes
            os.environ.setdefault(name, value)
        fault = os.environ.get(FAULT_ENV)
        _quiet(True)  # Dask logs connection troubles at length; the run reports them in one line of its own
        if self.client is None:
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                self.client = self._connect()
        self.address = self.scheduler or self.client.scheduler.address
        if self.scheduler is not None:
            self.kill_scheduler_after = numbered(fault, "scheduler-lost")
        info = self.client.scheduler_info(n_workers=-1)
        self.workers = len(info.get("workers", {}))
        cwd = os.getcwd()
        check_workers(self.client, runner, cwd)
        args = runner.init_args[:-1] + (fault,)  # the workers honour the run's MIDLAYOUT_FAULT
        self.init = self.client.scatter((cwd, args), broadcast=True, hash=False)
        self.in_flight = 2 * max(1, self.workers)

    def _connect(self) -> Client:
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            n = self.workers or os.cpu_count() or 1
            self.cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,  # polars and numba hold the GIL: processes, not threads
                memory_limit=0,  # as a local process pool: no nanny restarts on memory
                dashboard_address="127.0.0.1:0",  # its HTTP server on a free local port (8787 may be taken)
                silence_logs=logging.ERROR,
            )
            return Client(self.cluster, set_as_default=False)
        _refused(self.scheduler)
        try:
            client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the dask scheduler at {self.scheduler} ({type(exc).__name__})"
            ) from None
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            client.close(timeout=CLOSE_TIMEOUT)
            raise UsageError(
                f"the dask scheduler at {self.scheduler} has no worker (waited {WORKERS_TIMEOUT:.0f} s)"
            ) from None
        return client

    @classmethod
    @contextmanager
    def session(cls, scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
        """One client for several runs (`run --executor dask`: a job's entries side by side): the cluster
        at `scheduler`, or a LocalCluster of `workers` processes, closed on the way out. Give it to each
        run's `DaskExecutor(client=...)`."""
        import dask
        import distributed  # noqa: F401 - loads its config before the override below

        for name, value in WORKER_ENV.items():
            os.environ.setdefault(name, value)
        owner = cls(scheduler, workers)
        _quiet(True)  # the runs' own _quiet(False) leaves the filter on while the session holds it
        try:
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                owner.client = owner._connect()
        except BaseException:
            _quiet(False)
            raise
        try:
            yield owner.client
        finally:
            if owner.client is not None and owner.client.status != "running":
                owner.was_lost = True  # the runs said so; closing what is gone is quick and quiet
            owner.close()  # _quiet(False) there

    # --- the pieces ---

    def submit(self, task: Task) -> Handle:
        assert self.client is not None and self.init is not None, "start the executor first"
        key = f"midlayout-piece-{self.token}-{task.job:04d}-{task.seq:06d}"
        if self.client.status != "running":
            raise self.lost()
        try:
            future = self.client.submit(
                _run_piece, self.token, self.init, task, key=key, pure=False, retries=RETRIES
            )
        except OSError as exc:  # CommClosedError: the scheduler went away
            raise self.lost() from exc
        return _DaskHandle(self, future, task)

    def lost(self) -> ExecutorLost:
        self.was_lost = True
        return ExecutorLost(
            f"internal error: dask scheduler at {self.address} lost during the read phase; "
            "nothing was committed, rerun"
        )

    def kill_scheduler(self) -> None:
        """The `scheduler-lost:N` test hook: the scheduler SIGKILLs itself."""
        assert self.client is not None
        try:
            self.client.run_on_scheduler(_die)
        except Exception:  # noqa: BLE001, S110 - it dies while answering
            pass
        deadline = time.monotonic() + 30
        while self.client.status == "running" and time.monotonic() < deadline:  # until the client notices
            time.sleep(0.05)

    def close(self) -> None:
        self.closing = True
        client, self.client = self.client, None
        if client is None:
            _quiet(False)
            return
        timeout = 1 if self.was_lost else CLOSE_TIMEOUT
        try:
            if client.status == "running":
                if self.init is not None:
                    client.cancel([self.init], force=True)
                # Bounded: closing after an interrupt must not wait on workers a restart is replacing.
                client.run(_forget, self.token, callback_timeout=timeout)
        except Exception:  # noqa: BLE001, S110 - a lost cluster has nothing left to release
            pass
        finally:
            try:
                if self.own_client:
                    client.close(timeout=timeout)
                    if self.cluster is not None:
                        self.cluster.close(timeout=timeout)
                        self.cluster = None
            except (OSError, TimeoutError):  # what is already gone fails to close: the pieces are all in
                pass
            except Exception:
                if not self.was_lost:  # the run's error says why
                    raise
            finally:
                _quiet(False)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "scheduler": self.scheduler, "workers": self.workers}


def _refused(address: str) -> None:
    """UsageError at once when nothing listens at a tcp `address` (Dask would retry for CONNECT_TIMEOUT);
    any other outcome (it answers, a timeout, a name that does not resolve) is left to Dask's client."""
    import socket

    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp") or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except ConnectionRefusedError:
        raise UsageError(
            f"cannot reach the dask scheduler at {address} (connection refused: nothing listens there)"
        ) from None
    except OSError:
        return


class _OnlyCritical(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL


_QUIET: Final = _OnlyCritical()


_QUIET_HELD = [0]  # runs (and sessions) in this process that want them off: a job's entries run in threads
_QUIET_LOCK = threading.Lock()


def _quiet(on: bool) -> None:
    """Dask's own log lines (and asyncio's about its tasks) off while a run uses it, or on again once no
    run of this process (nor a `session`) does."""
    with _QUIET_LOCK:
        if on:
            _QUIET_HELD[0] += 1
            if _QUIET_HELD[0] == 1:
                _filter(True)
        elif _QUIET_HELD[0]:
            _QUIET_HELD[0] -= 1
            if _QUIET_HELD[0] == 0:
                _filter(False)


def _filter(on: bool) -> None:
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("distributed", "asyncio")]
    for name in ["distributed", "asyncio", *names]:
        logger = logging.getLogger(name)
        (logger.addFilter if on else logger.removeFilter)(_QUIET)


# --- planner checks: every worker sees the inputs and can write the stage folder ---


def check_workers(client: Client, runner: BatchRunner, cwd: str) -> None:
    """Exit 2 naming the first worker (and path) that cannot enter the client's folder `cwd`, read an input
    as the client sees it, or create a file in the stage folder."""
    files = [(str(job.path), job.path.stat().st_size) for job in runner.jobs]
    found = client.run(_check_worker, cwd, files, str(runner.root))
    for address, problem in sorted(found.items()):
        if problem is not None:
            path, why = problem
            raise InputError(f"dask worker {address}: {why}: {path} (every worker must see the same files)")


def _check_worker(cwd: str, files: list[tuple[str, int]], stage: str) -> tuple[str, str] | None:
    if not os.path.isdir(cwd):
        return cwd, "cannot enter the client's working folder"
    for name, size in files:
        path = os.path.join(cwd, name)
        try:
            found = os.stat(path).st_size
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            return name, f"cannot read the input ({exc.strerror or type(exc).__name__})"
        if found != size:
            return name, f"the input has {found} bytes there, {size} here"
    probe = Path(cwd, stage) / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return stage, f"cannot create a file in the stage folder ({exc.strerror or type(exc).__name__})"
    return None


# --- on the workers ---

_RUNNERS: dict[str, BatchRunner] = {}  # run token → this worker process's runner for that run
_LOCK = threading.Lock()


def _run_piece(token: str, init: tuple[str, tuple[Any, ...]], task: Task) -> Done | _Failed:
    cwd, init_args = init
    with _LOCK:
        if os.getcwd() != cwd:  # the client's folder: relative paths mean what they mean there
            os.chdir(cwd)
        runner = _RUNNERS.get(token)
        if runner is None:
            kernels.activate(init_args[5])  # the kernels name, before anything is built
            runner = _RUNNERS[token] = BatchRunner(*init_args)
    try:
        return runner.run(task)
    except MidlayoutError as exc:
        return _Failed(exc)


def _forget(token: str) -> None:
    _RUNNERS.pop(token, None)


def _die() -> None:
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
