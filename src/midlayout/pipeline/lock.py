"""The `--out` lock: one run at a time per output folder, held as an `flock` on `<out>/.midlayout/lock`.

The kernel releases an `flock` when its holder exits, however it exits (SIGKILL included), so there is never a
stale lock to delete by hand. The pid, host and start time written into the file are information for the
message a second run prints; they decide nothing.
"""

from __future__ import annotations

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


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the lock on `out` for the duration, or raise FolderBusy naming the holder."""
    path = work_dir(out) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown holder"
            raise FolderBusy(
                f"{out} is in use by another midlayout run ({holder}); wait for it to finish"
            ) from None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock; the file stays (deleting a lock file races with its next holder)
