"""SIGTERM stops a command the way Ctrl-C (SIGINT) does: clean-up runs, one line, exit 128 + signal."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

INTERRUPTED, TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread so every `finally` and `except BaseException` runs."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated in the main thread (elsewhere: left as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_message(signame: str) -> str:
    return (
        f"stopped by {signame} before the run finished; the output folder still holds the previous "
        "complete run (or nothing); rerun the command to finish (docs/run-integrity.md)"
    )
