"""Worker processes die with the process that started them, however it dies (SIGKILL included)."""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_pdeathsig() -> None:
    """Linux: the kernel sends this process SIGKILL when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog below still works
        pass


def _watch(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)  # the parent is gone: nothing this worker holds is wanted any more


def die_with_parent() -> None:
    """Call first in a spawned worker: PR_SET_PDEATHSIG where there is one, and a watchdog thread on the
    parent's pipe (it becomes readable when the parent exits) everywhere."""
    _set_pdeathsig()
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if parent.pid is not None and os.getppid() != parent.pid:  # died before prctl took effect
        os._exit(1)
    threading.Thread(
        target=_watch, args=(parent.sentinel,), name="midlayout-parent-watch", daemon=True
    ).start()
