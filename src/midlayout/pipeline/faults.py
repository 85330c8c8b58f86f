"""Test hook: stop a run at a named point, deterministically (never by a timed kill).

Honoured only when the environment variable MIDLAYOUT_FAULT is set; it is a hook for tests, not a feature.
`MIDLAYOUT_FAULT=commit:duckdb` kills the process with SIGKILL when the run reaches that point (nothing of
Python's clean-up runs, as with a power cut or the OOM killer); `…@raise` raises an error there instead (the
run fails and cleans up); `…@term` sends the process SIGTERM there (as a supervisor stopping it); `…@stop`
sends it SIGSTOP (it waits there, holding the folder, until SIGCONT).

Points, in run order: `batch` (the first batch handled by the main process, workers still alive), `staged`
(every batch staged), `files` (every file of the new output set built, before any database is prepared),
`prepare:<writer>` (a database writer prepared), `commit:<writer>` (after each writer's commit: a file writer's
files exist under their final names in the new set; a database's transaction is committed), `swap` (before the
old set is moved aside), `swap:moved` (the first new file moved into the folder), `manifest` (before the
manifest is written) and `done` (after it).
"""

from __future__ import annotations

import os
import signal

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
    sig = {"term": signal.SIGTERM, "stop": signal.SIGSTOP}.get(how, signal.SIGKILL)
    os.kill(os.getpid(), sig)
