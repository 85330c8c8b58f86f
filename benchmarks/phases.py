"""CPU seconds per phase of one in-process `convert` (one worker), for the per-phase profile in BENCHMARKS.md.

CPU time (user + system of every thread of the process, `time.process_time`) is summed per phase by
wrapping the functions that run each phase; on a shared machine it drifts far less than wall time.
Not a bench_*.py: `make bench` does not run it.

    python -m benchmarks.phases MAPPING OUT_DIR INPUT... (MIDLAYOUT_DECODER=python for the reference decoder)
"""

from __future__ import annotations

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


def main(argv: list[str]) -> None:
    start = time.process_time()
    from midlayout.layout.mapping import load_mapping
    from midlayout.pipeline import batches
    from midlayout.pipeline import convert as convert_mod

    SPENT["start-up and imports"] = time.process_time() - start
    batches.read_piece = _timed("read (decode)", batches.read_piece)
    batches.apply = _timed("map", batches.apply)
    batches.validate_rows = _timed("validate", batches.validate_rows)
    batches.stage_lookup_table = _timed("lookup table", batches.stage_lookup_table)
    convert_mod.stage_lookup_table = batches.stage_lookup_table
    convert_mod._cross_rejects = _timed("cross-file", convert_mod._cross_rejects)
    convert_mod._write_targets = _timed("write", convert_mod._write_targets)
    mapping, out, inputs = argv[0], Path(argv[1]), argv[2:]
    total = time.process_time()
    convert_mod.convert([load_mapping(Path(mapping))], inputs, out, ["parquet"], workers=1)
    SPENT["total convert()"] = time.process_time() - total
    phases = sum(v for k, v in SPENT.items() if k not in ("start-up and imports", "total convert()"))
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
