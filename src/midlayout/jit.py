"""numba, imported on first use and with a cache that cannot break a run.

numba's `cache=True` writes compiled kernels to `__pycache__` next to the module that defines them and
raises when that folder is read-only and no other cache folder is writable (an installed package on a
locked-down PC). `NUMBA_CACHE_DIR` is honoured; otherwise a read-only package folder sends the cache to
a user cache folder (`$XDG_CACHE_HOME` or `~/.cache`, `%LOCALAPPDATA%` on Windows, then the temp
folder), and when nothing is writable the kernel is compiled in memory on every start. Only processes
that run a kernel import numba.

Once a kernel is loaded, the compiler's code is not run again (a call goes through numba's dispatcher to
the machine code), yet LLVM's start-up left about 90 MiB of `libllvmlite.so` resident in each process
that decodes. On Linux those clean, read-only pages are handed back (`madvise(MADV_DONTNEED)`): they stay
in the page cache and fault back in if numba compiles again. Written pages (relocations) are kept.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "compile_seconds", "kernel", "release_compiler_pages"]

_COMPILED: dict[Callable[..., Any], Any] = {}
_SECONDS: dict[str, float] = {}
_LOCK = threading.RLock()  # conversions in threads (`run --executor dask`) compile a kernel once


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
    """`source` compiled by numba (once per process, whichever thread asks first; from the cache when it
    can), after `warm(fn)` ran it on the argument types its callers use."""
    if source in _COMPILED:
        return _COMPILED[source]
    with _LOCK:
        if source in _COMPILED:
            return _COMPILED[source]
        return _compile(source, warm)


def _compile(source: Callable[..., Any], warm: Callable[[Any], object]) -> Any:
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
    release_compiler_pages()
    return fn


_MADV_DONTNEED = 4  # Linux


def release_compiler_pages() -> int:
    """Hand back the resident clean, read-only pages of `libllvmlite.so` (Linux; elsewhere nothing).
    Returns the bytes of the ranges advised."""
    if sys.platform != "linux":
        return 0
    try:
        with open("/proc/self/smaps", encoding="ascii", errors="replace") as fh:
            ranges = _clean_ranges(fh, "libllvmlite.so")
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for start, end in ranges:
        if madvise(start, end - start, _MADV_DONTNEED) == 0:
            done += end - start
    return done


def _clean_ranges(smaps: Any, library: str) -> list[tuple[int, int]]:
    """(start, end) of the mappings of `library` in an smaps listing that are not writable and hold no
    written page: dropping their pages loses nothing (they are read back from the file)."""
    out: list[tuple[int, int]] = []
    current: list[Any] | None = None  # [start, end, eligible, dirty kB]
    for line in smaps:
        fields = line.split()
        if not fields:
            continue
        if "-" in fields[0] and not fields[0].endswith(":"):
            if current is not None and current[2] and current[3] == 0:
                out.append((current[0], current[1]))
            lo, hi = fields[0].split("-")
            eligible = len(fields) > 5 and fields[5].endswith(library) and "w" not in fields[1]
            current = [int(lo, 16), int(hi, 16), eligible, 0]
        elif current is not None and fields[0] in ("Private_Dirty:", "Shared_Dirty:", "Anonymous:"):
            current[3] += int(fields[1])
    if current is not None and current[2] and current[3] == 0:
        out.append((current[0], current[1]))
    return out


def compile_seconds() -> dict[str, float]:
    """Seconds each kernel took to import numba and compile or load, in this process."""
    return dict(_SECONDS)
