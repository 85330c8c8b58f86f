"""The process umask, shared by conversions that run side by side in threads (`run --executor dask`).

A conversion builds its files owner-only (umask 077: staging holds personal data). The umask belongs to
the process, so threads take it together: the first to enter sets 077, the last to leave puts the user's
umask back, and `user()` is the user's umask meanwhile (what a folder or file created outside a
conversion gets, as when conversions run one at a time).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PRIVATE = 0o077

_LOCK = threading.Lock()
_HELD = [0, 0]  # [conversions inside `private`, the user's umask while any is]


@contextmanager
def private() -> Iterator[None]:
    """Files and folders created meanwhile are owner-only (0600/0700), in every thread of the process."""
    with _LOCK:
        if _HELD[0] == 0:
            _HELD[1] = os.umask(PRIVATE)
        _HELD[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD[0] -= 1
            if _HELD[0] == 0:
                os.umask(_HELD[1])


def user() -> int:
    """The user's umask, also while conversions hold the private one."""
    with _LOCK:
        if _HELD[0]:
            return _HELD[1]
        mask = os.umask(PRIVATE)
        os.umask(mask)
        return mask
