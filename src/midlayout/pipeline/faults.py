"""Test hook: stop a run at a named point, deterministically (never by a timed kill).

Honoured only when the environment variable MIDLAYOUT_FAULT is set; it is a hook for tests, not a feature.
`MIDLAYOUT_FAULT=commit:duckdb` kills the process with SIGKILL when the run reaches that point (nothing of
Python's clean-up runs, as with a power cut or the OOM killer); `…@raise` raises an error there instead (the
run fails and cleans up); `…@term` sends the process SIGTERM there (as a supervisor stopping it); `…@int`
SIGINT (as Ctrl-C); `…@stop` sends it SIGSTOP (it waits there, holding the folder, until SIGCONT).

Every point but `piece-kill` is reached in the main process, so it stops the whole run whatever the local
pool: with the thread pool (the default) the workers are threads of that process; with
`MIDLAYOUT_LOCAL_POOL=processes` the worker processes die with it (pipeline/procs.py).

Points, in run order: `batch` (the first batch handled by the main process, workers still alive), `staged`
(every batch staged), `files` (every file of the new output set built, before any database is prepared),
`prepare:<writer>` (a database writer prepared), `commit:<writer>` (after each writer's commit: a file writer's
files exist under their final names in the new set; a database's transaction is committed), `swap` (before the
old set is moved aside), `swap:moved` (the first new file moved into the folder), `manifest` (before the
manifest is written) and `done` (after it).

Scale-out points, for the dask executor only (pipeline/executors/dask.py; the local executor never passes
the setting to its runners, so a local worker, thread or process, never kills itself): `piece-kill:N` — the
worker process that runs piece N of job 0 kills itself with SIGKILL right after staging that piece's rows, on
the first attempt only (a marker file in the stage folder remembers it), so the scheduler must run the piece
again elsewhere;
`scheduler-lost:N` — after the client has handled N pieces' results it has the scheduler (given by
`--scheduler`) SIGKILL itself, as a scheduler host lost mid-run. The client passes MIDLAYOUT_FAULT on to
the workers with the run's settings, so a worker started elsewhere honours it too.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "MIDLAYOUT_FAULT"


class InjectedFault(RuntimeError):
    """The failure `MIDLAYOUT_FAULT=<point>@raise` asked for."""


def fault(point: str) -> None:
    """Kill, fail or terminate the run here when MIDLAYOUT_FAULT names this point; otherwise nothing."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, how = wanted.partition("@")
    if name != point:
        return
    if how == "raise":
        raise InjectedFault(f"injected fault at {point} ({ENV})")
    sig = {"term": signal.SIGTERM, "int": signal.SIGINT, "stop": signal.SIGSTOP}.get(how, signal.SIGKILL)
    os.kill(os.getpid(), sig)


def numbered(wanted: str | None, point: str) -> int | None:
    """N when `wanted` (a MIDLAYOUT_FAULT value) is `<point>:N`, else None."""
    if not wanted:
        return None
    name, _, n = wanted.partition(":")
    return int(n) if name == point and n.isdigit() else None


def piece_fault(wanted: str | None, job: int, seq: int, stage: Path) -> None:
    """`piece-kill:N`: SIGKILL this process while it runs piece N of job 0, once per stage folder."""
    n = numbered(wanted, "piece-kill")
    if n is None or (job, seq) != (0, n):
        return
    try:
        os.close(os.open(stage / f".fault-piece-kill-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:  # the retry: run it through
        return
    os.kill(os.getpid(), signal.SIGKILL)
