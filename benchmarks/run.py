"""`make bench`: run every benchmarks/bench_*.py in turn, in name order (sizes come from their environment variables).

bench_convert.py runs first and rewrites BENCHMARKS.md's generated block; bench_dask.py adds its section to it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":
    failed = 0
    root = Path(__file__).resolve().parents[1]
    for bench in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"== {bench.name}", flush=True)
        # as a module from the repository root, so that one bench can use another's helpers
        cmd = [sys.executable, "-m", f"benchmarks.{bench.stem}"]
        failed |= subprocess.run(cmd, check=False, cwd=root).returncode
    sys.exit(1 if failed else 0)
