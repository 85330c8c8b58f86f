"""numba, imported on first use and with a cache that cannot break a run.

numba's `cache=True` writes compiled kernels to `__pycache__` next to the module that defines them and
raises when that folder is read-only and no other cache folder is writable (an installed package on a
locked-down PC). `NUMBA_CACHE_DIR` is honoured; otherwise a read-only package folder sends the cache to
a user cache folder (`$XDG_CACHE_HOME` or `~/.cache`, `%LOCALAPPDATA%` on Windows, then the temp
folder), and when nothing is writable the kernel is compiled in memory on every start. Only processes
that run a kernel import numba.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "compile_seconds", "kernel"]

_COMPILED: dict[Callable[..., Any], Any] = {}
_SECONDS: dict[str, float] = {}


def cache_dir(module_dir: Path) -> str | None:
    """Where numba may write its cache: None for its default (`module_dir` is writable), a folder, or
    "" when nothing is writable (compile without a cache)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if os.access(module_dir, os.W_OK):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else None
    )
    root = Path(base) if base else Path.home() / ".cache"
    user = os.getuid() if hasattr(os, "getuid") else "user"
    for candidate in (root / "midlayout" / "numba", Path(tempfile.gettempdir()) / f"midlayout-numba-{user}"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return str(candidate)
    return ""


def kernel(source: Callable[..., Any], warm: Callable[[Any], object]) -> Any:
    """`source` compiled by numba (once per process; from the cache when it can), after `warm(fn)` ran it
    on the argument types its callers use."""
    if source in _COMPILED:
        return _COMPILED[source]
    started = time.perf_counter()
    where = cache_dir(Path(inspect.getfile(source)).parent)
    if where:
        os.environ["NUMBA_CACHE_DIR"] = where
    import numba

    fn = None
    if where != "":
        try:
            fn = numba.njit(cache=True, nogil=True)(source)
            warm(fn)
        except (RuntimeError, OSError):  # numba: "cannot cache function ...: no locator available"
            fn = None
    if fn is None:
        fn = numba.njit(cache=False, nogil=True)(source)
        warm(fn)
    _COMPILED[source] = fn
    _SECONDS[f"{source.__module__}.{source.__qualname__}"] = time.perf_counter() - started
    return fn


def compile_seconds() -> dict[str, float]:
    """Seconds each kernel took to import numba and compile or load, in this process."""
    return dict(_SECONDS)
