"""The `--out` lock: one run at a time per output folder, held as an `flock` on `<out>/.midlayout/lock`.

The kernel releases an `flock` when its holder exits, however it exits (SIGKILL included), so there is never a
stale lock to delete by hand: a file left by a killed run is simply locked by the next one. The pid, host and start time written into the file are information for the
message a second run prints; they decide nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from midlayout.errors import UsageError

WORK = ".midlayout"  # the tool's own work folder inside an output folder
LOCK = "lock"


class FolderBusy(UsageError):
    """Another run holds the output folder (exit 2)."""


def work_dir(out: Path) -> Path:
    """`<out>/.midlayout`, created owner-only when missing."""
    work = out / WORK
    work.mkdir(mode=0o700, parents=True, exist_ok=True)
    return work


def _acquire(out: Path, path: Path) -> int:
    """An fd holding the flock on `path`; retried when the file was replaced meanwhile (a holder removed it)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the previous holder removed the emptied work folder just now
            work_dir(out)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown holder"
            os.close(fd)
            raise FolderBusy(
                f"{out} is in use by another midlayout run ({holder}); wait for it to finish"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the lock on `out` for the duration, or raise FolderBusy naming the holder.

    The lock file is removed (while still held) on the way out, and the work folder with it when empty, so a
    finished run leaves only its output set; a killed run leaves the file, which the next run simply locks.
    """
    work = work_dir(out)
    path = work / LOCK
    fd = _acquire(out, path)
    try:
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            work.rmdir()
        os.close(fd)
