"""Peak RSS of one `midlayout convert` run, for the whole process tree and per process (issue #6, target 3).

Samples like `bench_convert.measure` (psutil, every 20 ms, tree RSS = sum over the process and its
children) and also keeps each process's own peak, so the report says where the memory sits. With
--timeline, every 5 s it prints the peaks of the last 5 s (tree, main, children). With --pss,
the tree's PSS (shared pages split between processes) is sampled too, every 0.5 s (reading smaps is slow).

    python -m benchmarks.rss [--pss] [--timeline] [--src DIR] -- convert -m mappings/vendor_a/juki-2.5.yaml A B -o OUT -w parquet

--src DIR runs another checkout's code (DIR is its `src`, from e.g. `git archive <commit> | tar -x`) in that
checkout's folder, so a relative mapping path names its own mappings (give the inputs and OUT as absolute paths).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.bench_convert import CLI, ROOT, SRC_CLI, _env, _tree_rss


def main(argv: list[str]) -> None:
    pss, timeline = "--pss" in argv, "--timeline" in argv
    env = _env()
    cli, cwd = CLI, ROOT
    if "--src" in argv:  # another checkout's code (its `src` folder) with this environment, in its folder
        src = Path(argv[argv.index("--src") + 1]).resolve()
        env["PYTHONPATH"] = f"{src}:{env['PYTHONPATH']}"
        cli, cwd = SRC_CLI, src.parent  # relative paths name its mappings, which its layouts accept
    args = argv[argv.index("--") + 1 :]
    start = time.perf_counter()
    proc = psutil.Popen([*cli, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env)
    tree, tree_at, tree_pss = 0, 0.0, 0
    own: dict[int, int] = {}
    last_pss, last_line = 0.0, 0.0
    window: dict[int, int] = {}  # per process, the largest RSS since the last timeline line
    window_tree = 0
    while proc.poll() is None:
        now = time.perf_counter() - start
        total = _tree_rss(proc)
        if total > tree:
            tree, tree_at = total, now
        try:
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        cur: dict[int, int] = {}
        for p in procs:
            try:
                cur[p.pid] = p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            own[p.pid] = max(own.get(p.pid, 0), cur[p.pid])
            window[p.pid] = max(window.get(p.pid, 0), cur[p.pid])
        window_tree = max(window_tree, total)
        if timeline and now - last_line >= 5:
            last_line = now
            kids = sorted((v for k, v in window.items() if k != proc.pid), reverse=True)[:4]
            line = ", ".join(f"{v / 2**20:.0f}" for v in kids)
            main_mib = window.get(proc.pid, 0) / 2**20
            print(
                f"  {now:6.0f} s  peaks: tree {window_tree / 2**20:5.0f} MiB  main {main_mib:5.0f}  [{line}]"
            )
            window, window_tree = {}, 0
        if pss and now - last_pss >= 0.5:
            last_pss = now
            total_pss = 0
            for p in procs:
                try:
                    total_pss += p.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            tree_pss = max(tree_pss, total_pss)
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"exit {proc.returncode}\n{err[-2000:]}")
    mib = 2**20
    print(f"time {seconds:.1f} s, exit {proc.returncode}")
    print(f"tree peak RSS {tree / mib:.0f} MiB ({tree / 2**30:.2f} GiB) at {tree_at:.1f} s")
    if pss:
        print(f"tree peak PSS {tree_pss / mib:.0f} MiB (sampled every 0.5 s)")
    print(f"main peak RSS {own.get(proc.pid, 0) / mib:.0f} MiB")
    workers = sorted((v for k, v in own.items() if k != proc.pid and v > 50 * mib), reverse=True)
    print("child peaks RSS " + ", ".join(f"{v / mib:.0f}" for v in workers) + " MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
