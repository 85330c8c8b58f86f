"""Benchmark `midlayout convert` against baselines run side by side on the same files, in the same run.

Every case runs as its own process; wall time includes start-up, peak RSS is the largest sum of RSS over
the process and its children (sampled every 20 ms with psutil), and CPU seconds are user + system time
of the process and every process it waited for (its workers), from getrusage(RUSAGE_CHILDREN). On a
shared machine CPU seconds are the steadier figure. Targets (issue #14):

1. fixed-width CP932 convert throughput >= 0.35x `iconv -f CP932 -t UTF-8` on the same files
2. >= 8x faster than a pandas read_fwf + pandera (pandas) script doing the same job
3. >= 4x faster than a plain pandas read_fwf(encoding='cp932') with no mapping or validation
4. CSV UTF-8 convert throughput >= 0.2x polars read_csv on the same file
5. <= 6 CPU seconds per 1M records (sum over processes), fixed-width CP932
6. peak RSS <= 1 GB when converting a 4 GB extract (opt-in: MIDLAYOUT_BENCH_BIG_GB=4)

Environment: MIDLAYOUT_BENCH_HOUSEHOLDS (default 450000: about 1M person records, 370 MB of vendor A
住民+世帯), MIDLAYOUT_BENCH_DIR (inputs are kept there and reused; default a temp folder),
MIDLAYOUT_BENCH_BIG_GB (0: skip the big-extract RSS case), MIDLAYOUT_BENCH_SEED (default 1),
MIDLAYOUT_BENCH_WRITE (1, default: write the figures into BENCHMARKS.md), MIDLAYOUT_BENCH_CASES
(default "fixed,csv,dask": the groups to run; `dask` is bench_dask.py's), MIDLAYOUT_BENCH_BASE_SRC (the `src`
folder of another checkout, whole: adds its convert as a case, run in that checkout's folder with its own
mappings and layouts, e.g. `git archive <commit> | tar -x -C /tmp/base` and /tmp/base/src).
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
HOUSEHOLDS = int(os.environ.get("MIDLAYOUT_BENCH_HOUSEHOLDS", "450000"))
SEED = int(os.environ.get("MIDLAYOUT_BENCH_SEED", "1"))
BIG_GB = float(os.environ.get("MIDLAYOUT_BENCH_BIG_GB", "0"))
WRITE = os.environ.get("MIDLAYOUT_BENCH_WRITE", "1") == "1"
CASES = set(os.environ.get("MIDLAYOUT_BENCH_CASES", "fixed,csv,dask").split(","))
BASE_SRC = os.environ.get("MIDLAYOUT_BENCH_BASE_SRC", "")
PY = sys.executable
CLI = [str(Path(PY).parent / "midlayout")]
# Another checkout's command line (MIDLAYOUT_BENCH_BASE_SRC, rss.py --src): through `midlayout.cli.main`, which
# every version has, not this venv's console script, whose `midlayout.__main__` older checkouts lack.
SRC_CLI = [
    PY,
    "-c",
    "import sys\nfrom midlayout.cli import main\nsys.argv[0] = 'midlayout'\nsys.exit(main())",
]
BYTES_PER_HOUSEHOLD = 822  # vendor A JUMIN (2.22 × 302) + SETAI (150), measured
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass
class Run:
    """One measured process."""

    case: str
    seconds: float
    peak_rss: int
    nbytes: int
    records: int
    note: str = ""
    cpu: float = 0.0  # user + system seconds of the process and its children

    @property
    def cpu_per_m(self) -> float:
        return self.cpu / self.records * 1e6

    @property
    def mb_s(self) -> float:
        return self.nbytes / 1e6 / self.seconds

    @property
    def rec_s(self) -> float:
        return self.records / self.seconds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    case: str,
    cmd: list[str],
    nbytes: int,
    records: int,
    note: str = "",
    ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> Run:
    """Run `cmd` in `cwd`, sampling the RSS of its process tree; fail loudly on an unexpected exit code."""
    cpu0 = _children_cpu()
    seen: dict[int, float] = {}  # CPU seconds of each process of the tree, as last sampled
    peak = 0
    # stderr to a file, not a pipe: a chatty run (Dask's logs) would block on a full pipe
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = psutil.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=stderr, cwd=cwd, env={**_env(), **(env or {})}
        )
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc, seen))
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        stderr.seek(0)
        err = stderr.read().decode(errors="replace")
    # getrusage counts only the processes that were waited for; a Dask LocalCluster's worker processes may
    # not be (ended, not joined): the sampled sum over the tree catches those.
    waited, sampled = _children_cpu() - cpu0, sum(seen.values())
    cpu = max(waited, sampled)
    if proc.returncode not in ok:
        raise SystemExit(f"{case}: exit {proc.returncode}\n{err[-2000:]}")
    run = Run(case, seconds, peak, nbytes, records, note, cpu)
    print(
        f"  {case:<34} {seconds:8.2f} s {cpu:8.2f} CPU-s {run.mb_s:8.1f} MB/s {peak / 2**20:8.0f} MiB"
        + (f" (getrusage {waited:.2f}, sampled {sampled:.2f})" if sampled > waited * 1.02 else ""),
        flush=True,
    )
    return run


def _tree_rss(proc: psutil.Process, cpu: dict[int, float] | None = None) -> int:
    """RSS summed over `proc` and its children; with `cpu`, also note each one's CPU seconds (by pid)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            with p.oneshot():
                total += p.memory_info().rss
                if cpu is not None:
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _records(path: Path, stride: int) -> int:
    return path.stat().st_size // stride


def _csv_records(path: Path) -> int:
    import polars as pl

    return pl.scan_csv(path).select(pl.len()).collect().item()


def generate(folder: Path) -> dict[str, Path]:
    """Vendor A (fixed CP932) and vendor B (CSV UTF-8 and CP932), reused when already there."""
    sets = {
        "a": ["--vendor", "a"],
        "b_utf8": ["--vendor", "b"],
        "b_cp932": ["--vendor", "b", "--encoding", "cp932"],
    }
    if "csv" not in CASES:
        del sets["b_utf8"], sets["b_cp932"]
    for name, args in sets.items():
        out = folder / f"{name}-{HOUSEHOLDS}-{SEED}"
        if not (out / ".complete").exists():
            print(f"  generating {name} ({HOUSEHOLDS:,} households)…", flush=True)
            subprocess.run(
                [*CLI, "synth", *args, "-n", str(HOUSEHOLDS), "-s", str(SEED), "-o", str(out)],
                check=True,
                cwd=ROOT,
                env=_env(),
                stdout=subprocess.DEVNULL,
            )
            (out / ".complete").touch()
    return {name: folder / f"{name}-{HOUSEHOLDS}-{SEED}" for name in sets}


def _convert(
    mapping: str, inputs: list[Path], out: Path, *extra: str, cli: list[str] = CLI, root: Path = ROOT
) -> list[str]:
    return [
        *cli,
        "convert",
        "-m",
        str(root / "mappings" / mapping),
        *map(str, inputs),
        "-o",
        str(out),
        "-w",
        "parquet",
        *extra,
    ]


def fixed_cases(a: Path, work: Path) -> dict[str, Run]:
    jumin, setai = a / "JUMIN.DAT", a / "SETAI.DAT"
    files = [jumin, setai]
    nbytes = sum(p.stat().st_size for p in files)
    recs = _records(jumin, 302) + _records(setai, 150)
    runs = {}
    sh = f"iconv -f CP932 -t UTF-8 {jumin} {setai} > /dev/null"
    runs["iconv"] = measure("iconv -f CP932 -t UTF-8", ["sh", "-c", sh], nbytes, recs)
    code = "import sys\nfor p in sys.argv[1:]: open(p, 'rb').read().decode('cp932')"
    runs["pydecode"] = measure(
        "bytes.decode('cp932') (whole file)", [PY, "-c", code, *map(str, files)], nbytes, recs
    )
    # One untimed run first: numba compiles the kernels into its on-disk cache on a process's first use
    # after the kernel sources changed (cold), which would land in whichever case ran first. Printed, not
    # tabulated: the tables hold warm runs, as a user's second and later runs are.
    measure(
        "  warm-up run (numba cache; not tabulated)",
        _convert("vendor_a/juki-2.5.yaml", files, work / "aw"),
        nbytes,
        recs,
        ok=(0, 1),
    )
    runs["convert"] = measure(
        "midlayout convert (fixed, parquet)",
        _convert("vendor_a/juki-2.5.yaml", files, work / "a"),
        nbytes,
        recs,
        ok=(0, 1),
    )
    runs["convert_py"] = measure(
        "  same, MIDLAYOUT_DECODER=python",
        _convert("vendor_a/juki-2.5.yaml", files, work / "ap"),
        nbytes,
        recs,
        ok=(0, 1),
        env={"MIDLAYOUT_DECODER": "python"},
    )
    if BASE_SRC:  # its own definitions: this checkout's layouts may hold keys an older one does not know
        base = Path(BASE_SRC).resolve().parent
        runs["convert_base"] = measure(
            "  same, base checkout",
            _convert("vendor_a/juki-2.5.yaml", files, work / "ab", cli=SRC_CLI, root=base),
            nbytes,
            recs,
            ok=(0, 1),
            env={"PYTHONPATH": f"{BASE_SRC}{os.pathsep}{ROOT}"},
            cwd=base,
        )
    runs["convert_w1"] = measure(
        "  same, --workers 1",
        _convert("vendor_a/juki-2.5.yaml", files, work / "a1", "--workers", "1"),
        nbytes,
        recs,
        ok=(0, 1),
    )
    runs["convert_b25k"] = measure(
        "  same, --batch-size 25000",
        _convert("vendor_a/juki-2.5.yaml", files, work / "a2", "--batch-size", "25000"),
        nbytes,
        recs,
        ok=(0, 1),
    )
    runs["pandas"] = measure(
        "pandas read_fwf + pandera",
        [PY, "-m", "benchmarks.baselines.pandas_fwf", *map(str, files), str(work / "pandas")],
        nbytes,
        recs,
    )
    runs["pandas_plain"] = measure(
        "plain pandas read_fwf(encoding='cp932')",
        [PY, "-m", "benchmarks.baselines.pandas_plain", *map(str, files)],
        nbytes,
        recs,
    )
    runs["python"] = measure(
        "per-record Python",
        [PY, "-m", "benchmarks.baselines.python_records", *map(str, files), str(work / "python")],
        nbytes,
        recs,
    )
    return runs


def csv_cases(b_utf8: Path, b_cp932: Path, work: Path) -> dict[str, Run]:
    utf8 = [b_utf8 / "person.csv", b_utf8 / "household.csv"]
    cp932 = [b_cp932 / "person.csv", b_cp932 / "household.csv"]
    recs = sum(_csv_records(p) for p in utf8)
    size_u, size_c = (sum(p.stat().st_size for p in f) for f in (utf8, cp932))
    runs = {}
    code = "import sys, polars as pl\nfor p in sys.argv[1:]: pl.read_csv(p)"
    runs["polars"] = measure("polars read_csv (UTF-8)", [PY, "-c", code, *map(str, utf8)], size_u, recs)
    measure(  # warm numba's cache (see fixed_cases)
        "  warm-up run (numba cache; not tabulated)",
        _convert("vendor_b/juki-2.5.yaml", utf8, work / "bw"),
        size_u,
        recs,
        ok=(0, 1),
    )
    runs["csv_utf8"] = measure(
        "midlayout convert (CSV UTF-8)",
        _convert("vendor_b/juki-2.5.yaml", utf8, work / "bu"),
        size_u,
        recs,
        ok=(0, 1),
    )
    runs["csv_cp932"] = measure(
        "midlayout convert (CSV CP932)",
        _convert("vendor_b/juki-2.5-cp932.yaml", cp932, work / "bc"),
        size_c,
        recs,
        ok=(0, 1),
    )
    return runs


def big_case(folder: Path, work: Path) -> Run | None:
    if BIG_GB <= 0:
        return None
    households = int(BIG_GB * 1e9 / BYTES_PER_HOUSEHOLD)
    out = folder / f"big-{households}-{SEED}"
    if not (out / ".complete").exists():
        print(f"  generating the {BIG_GB:g} GB extract ({households:,} households)…", flush=True)
        subprocess.run(
            [*CLI, "synth", "--vendor", "a", "-n", str(households), "-s", str(SEED), "-o", str(out)],
            check=True,
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.DEVNULL,
        )
        (out / ".complete").touch()
    files = [out / "JUMIN.DAT", out / "SETAI.DAT"]
    nbytes = sum(p.stat().st_size for p in files)
    recs = _records(files[0], 302) + _records(files[1], 150)
    run = measure(
        f"midlayout convert ({nbytes / 1e9:.1f} GB)",
        _convert("vendor_a/juki-2.5.yaml", files, work / "big"),
        nbytes,
        recs,
        ok=(0, 1),
    )
    shutil.rmtree(work / "big", ignore_errors=True)
    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb
    import polars as pl
    import pyarrow as pa

    iconv = subprocess.run(
        ["iconv", "--version"], check=False, capture_output=True, text=True
    ).stdout.splitlines()[:1]
    return (
        f"{cpu}, {psutil.cpu_count()} logical CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, polars {pl.__version__}, "
        f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}; {' '.join(iconv)}"
    )


def table(runs: list[Run], baselines: dict[str, Run]) -> list[str]:
    head = [
        "case",
        "time (s)",
        "CPU (s)",
        "CPU s / 1M records",
        "MB/s",
        "records/s",
        "peak RSS (MiB)",
        *(f"vs {k} ({how})" for k in baselines for how in ("wall", "CPU")),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        ratios = [
            f"{ratio:.2f}×"
            for b in baselines.values()
            for ratio in (b.seconds / r.seconds * r.nbytes / b.nbytes, b.cpu / r.cpu * r.nbytes / b.nbytes)
        ]
        cells = [
            r.case,
            f"{r.seconds:.2f}",
            f"{r.cpu:.2f}",
            f"{r.cpu_per_m:.2f}",
            f"{r.mb_s:.1f}",
            f"{r.rec_s:,.0f}",
            f"{r.peak_rss / 2**20:,.0f}",
        ]
        lines.append("| " + " | ".join([*cells, *ratios]) + " |")
    return lines


def targets(
    fixed: dict[str, Run], csv: dict[str, Run], big: Run | None
) -> list[tuple[str, str, str, bool | None]]:
    """(target, goal, measured, met) per target of issue #14; a group that did not run is "not run".

    Ratios are judged on CPU seconds (user + system over all processes): on a shared machine wall time
    drifts with the other load, CPU time much less. Wall ratios are shown beside them.
    """
    out: list[tuple[str, str, str, bool | None]] = []
    if fixed:
        conv = fixed["convert"]

        def both(base: Run) -> tuple[float, float]:
            """(wall, CPU) speed-up of convert over `base` per byte."""
            per_byte = conv.nbytes / base.nbytes
            return base.seconds / conv.seconds * per_byte, base.cpu / conv.cpu * per_byte

        t1, c1 = both(fixed["iconv"])
        t2, c2 = both(fixed["pandas"])
        t3, c3 = both(fixed["pandas_plain"])
        out += [
            (
                "1. fixed CP932 convert vs iconv (throughput)",
                "≥ 0.35×",
                f"{c1:.2f}× CPU, {t1:.2f}× wall ({conv.mb_s:.0f} vs {fixed['iconv'].mb_s:.0f} MB/s)",
                c1 >= 0.35,
            ),
            (
                "2. vs pandas read_fwf + pandera",
                "≥ 8×",
                f"{c2:.1f}× CPU, {t2:.1f}× wall ({conv.seconds:.1f} vs {fixed['pandas'].seconds:.1f} s)",
                c2 >= 8,
            ),
            (
                "3. vs plain pandas read_fwf(encoding='cp932')",
                "≥ 4×",
                f"{c3:.1f}× CPU, {t3:.1f}× wall ({conv.seconds:.1f} vs {fixed['pandas_plain'].seconds:.1f} s)",
                c3 >= 4,
            ),
            (
                "5. CPU seconds per 1M records (sum over processes)",
                "≤ 6",
                f"{conv.cpu_per_m:.2f} ({conv.cpu:.1f} CPU-s for {conv.records:,} records)",
                conv.cpu_per_m <= 6,
            ),
        ]
    if csv:
        pol, utf8 = csv["polars"], csv["csv_utf8"]
        t4 = (pol.seconds / pol.records) / (utf8.seconds / utf8.records)
        c4 = (pol.cpu / pol.records) / (utf8.cpu / utf8.records)
        out.append(
            (
                "4. CSV UTF-8 convert vs polars read_csv (records/s)",
                "≥ 0.2×",
                f"{c4:.2f}× CPU, {t4:.2f}× wall ({utf8.rec_s:,.0f} vs {pol.rec_s:,.0f} records/s)",
                c4 >= 0.2,
            )
        )
    if big is not None:
        out.append(
            (
                f"6. peak RSS, {big.nbytes / 1e9:.1f} GB extract",
                "≤ 1 GB",
                f"{big.peak_rss / 2**30:.2f} GiB = {big.peak_rss / 1e9:.2f} GB ({big.seconds:.0f} s, {big.mb_s:.0f} MB/s)",
                big.peak_rss <= 1e9,  # the stricter reading of "1 GB"
            )
        )
    else:
        out.append(("6. peak RSS, 4 GB extract", "≤ 1 GB", "not run (MIDLAYOUT_BENCH_BIG_GB=4)", None))
    return out


def report(fixed: dict[str, Run], csv: dict[str, Run], big: Run | None) -> str:
    lines = [
        (
            f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `make bench` ({HOUSEHOLDS:,} households, seed {SEED}; "
            f"groups: {', '.join(sorted(CASES - {'dask'})) or 'none'})."
        ),
        "",
        f"Machine: {machine()}",
    ]
    if fixed:
        lines += ["", "### Fixed-width CP932 (vendor A 住民+世帯: JUMIN.DAT + SETAI.DAT)", ""]
        lines += table(list(fixed.values()), {"iconv": fixed["iconv"], "pandas": fixed["pandas"]})
    if csv:
        lines += ["", "### CSV (vendor B person.csv + household.csv)", ""]
        lines += table(list(csv.values()), {"polars read_csv": csv["polars"]})
    if big is not None:
        lines += ["", "### Large extract (peak RSS)", ""] + table([big], {})
    lines += ["", "### Targets", "", "| target | goal | measured | status |", "|---|---|---|---|"]
    for name, goal, measured, met in targets(fixed, csv, big):
        status = "not run" if met is None else "met" if met else "**not met**"
        lines.append(f"| {name} | {goal} | {measured} | {status} |")
    return "\n".join(lines)


def write_markdown(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    block = f"{MARK_START}\n{text}\n{MARK_END}"
    old = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    if MARK_START in old and MARK_END in old:
        head, rest = old.split(MARK_START, 1)
        new = head + block + rest.split(MARK_END, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


def main() -> None:
    if not CASES & {"fixed", "csv"} and BIG_GB <= 0:
        print("  no fixed or csv group asked for (MIDLAYOUT_BENCH_CASES) and no big extract: nothing to do")
        return
    keep = os.environ.get("MIDLAYOUT_BENCH_DIR")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="midlayout-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "out"
    try:
        data = generate(folder)
        fixed, csv = {}, {}
        if "fixed" in CASES:
            print("fixed-width:", flush=True)
            fixed = fixed_cases(data["a"], work)
        if "csv" in CASES:
            print("csv:", flush=True)
            csv = csv_cases(data["b_utf8"], data["b_cp932"], work)
        big = big_case(folder, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    text = report(fixed, csv, big)
    print("\n" + text)
    if WRITE:
        write_markdown(text)
        print("\nwritten to BENCHMARKS.md")


if __name__ == "__main__":
    main()
