"""CPU seconds per phase of one in-process `convert` (one worker), for the per-phase profile in BENCHMARKS.md.

CPU time (user + system of every thread of the process, `time.process_time`) is summed per phase by
wrapping the functions that run each phase; on a shared machine it drifts far less than wall time.
Not a bench_*.py: `make bench` does not run it.

    python -m benchmarks.phases MAPPING OUT_DIR INPUT... (MIDLAYOUT_DECODER=python for the reference decoder;
    MIDLAYOUT_PHASES_WRITERS=parquet,duckdb,standard for other writers than parquet)

"write" is the writers' time wherever it falls: after the cross-file checks, or (since #14 item 3) while
the batches come in (`WriterSession.stream`), in which case it is also printed on its own line.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPENT: dict[str, float] = defaultdict(float)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kw)
        finally:
            SPENT[name] += time.process_time() - start

    return wrapper


def _wrap(name: str, targets: list[tuple[Any, str]]) -> None:
    """Time every (owner, attribute) that exists (module layouts differ between checkouts)."""
    for owner, attr in targets:
        if hasattr(owner, attr):
            setattr(owner, attr, _timed(name, getattr(owner, attr)))


def main(argv: list[str]) -> None:
    start = time.process_time()
    import importlib

    from midlayout.layout.mapping import load_mapping
    from midlayout.pipeline import batches
    from midlayout.pipeline import convert as convert_mod

    SPENT["start-up and imports"] = time.process_time() - start
    mods = {"batches": batches, "convert": convert_mod}
    for name in ("readmap", "readphase", "staging", "session"):
        try:
            mods[name] = importlib.import_module(f"midlayout.pipeline.{name}")
        except ImportError:
            continue
    each = list(mods.values())
    _wrap("read (decode)", [(m, "read_piece") for m in each])
    _wrap("map", [(m, "apply") for m in each])
    _wrap("validate", [(m, "validate_rows") for m in each])
    if "session" in mods:  # the validator comes from a registry: time what it returns
        get = batches.get_validator  # type: ignore[attr-defined]
        batches.get_validator = lambda name: _timed("validate", get(name))  # type: ignore[attr-defined]
        _wrap("write", [(mods["session"].WriterSession, "write")])
        _wrap("write (while reading)", [(mods["session"].WriterSession, "stream")])
        lanes = getattr(mods["session"], "_Lanes", None)
        if lanes is not None:  # writer threads: run their calls in line, so each phase gets its own CPU
            lanes.call = lambda self, w, fn: fn()
    _wrap("lookup table", [(m, "stage_lookup_table") for m in each])
    _wrap("cross-file", [(m, n) for m in each for n in ("_cross_rejects", "cross_rejects")])
    _wrap("write", [(convert_mod, "_write_targets")])
    if "staging" in mods:  # inside "cross-file": the rules alone (the rest reads the rejected records back)
        _wrap("  of which the rules (check_run)", [(mods["staging"], "check_run")])
        collector = getattr(mods["staging"], "KeyCollector", None)
        if collector is not None:  # since the rule columns are gathered while reading (#14 item 3)
            _wrap("  of which the rules (check_run)", [(collector, "finish")])
            _wrap("cross-file columns (while reading)", [(collector, "_add")])
            collector._submit = lambda self, fn: fn()  # in line, so that each phase gets its own CPU
    mapping, out, inputs = argv[0], Path(argv[1]), argv[2:]
    total = time.process_time()
    if hasattr(convert_mod, "ConvertOptions"):  # the options object (main after the architecture work)
        writers = tuple(os.environ.get("MIDLAYOUT_PHASES_WRITERS", "parquet").split(","))
        options = convert_mod.ConvertOptions(writers=writers, workers=1)
        convert_mod.convert([load_mapping(Path(mapping))], inputs, out, options)
    else:
        convert_mod.convert([load_mapping(Path(mapping))], inputs, out, ["parquet"], workers=1)
    SPENT["total convert()"] = time.process_time() - total
    phases = sum(
        v for k, v in SPENT.items() if k not in ("start-up and imports", "total convert()") and k[0] != " "
    )
    SPENT["other (staging, captures, hashing, manifest)"] = SPENT["total convert()"] - phases
    for name, seconds in SPENT.items():
        print(f"{name:<46} {seconds:7.2f} CPU-s")
    try:
        from midlayout import jit
    except ImportError:  # a checkout before the numba kernels (MIDLAYOUT_BENCH_BASE_SRC style runs)
        return
    for name, seconds in jit.compile_seconds().items():
        print(f"numba: {name} imported and compiled or loaded in {seconds:.2f} s (wall, inside read/map)")


if __name__ == "__main__":
    main(sys.argv[1:])
