"""Benchmark the Dask executor (issue #15, "Measure"): the group `dask` of MIDLAYOUT_BENCH_CASES.

Side by side in one run, each case in its own process and measured as bench_convert.measure does (wall
time including interpreter and cluster start-up, CPU seconds summed over the process tree, peak tree RSS):

(a) overhead: the 1.45M-record fixed-width case (bench_convert.py's files: JUMIN.DAT + SETAI.DAT of
    MIDLAYOUT_BENCH_HOUSEHOLDS households) through `convert --executor dask` on a 2-worker LocalCluster
    against `convert --executor local --workers 2`: wall ratio (goal <= 1.3x, start-up included) and CPU ratio;
(b) a job of 12 entries, `run --executor local --workers 2` against `run --executor dask --workers 2`:
    4 synthetic municipalities (`midlayout synth`, seeds MIDLAYOUT_BENCH_JOB_SEEDS, default 11-14, each of
    MIDLAYOUT_BENCH_JOB_HOUSEHOLDS households, default 50,000) x 3 entries: A社 住基 + 個人住民税 together,
    B社 住基 UTF-8, B社 住基 CP932;
(c) scaling: throughput with 1 and 2 dask workers on (a)'s files, and the client's serial share: what the
    client does alone (start-up, planning, the cross-file rules, the writers' commit, rejects and manifest),
    from the wall time and the manifest's `timings`, as a fraction of the 1-worker run. By Amdahl's law that
    share bounds the speed-up on N workers; the report gives the bound and what 16 workers would give by it,
    labelled as a projection.

Every pair of runs must produce identical content (benchmarks/same_outputs.py); a difference fails the bench.
The figures go into BENCHMARKS.md's generated block as a section between markers of its own (bench_convert.py,
which `make bench` runs first, rewrites the whole block). Inputs are kept in MIDLAYOUT_BENCH_DIR when set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_convert import (
    CASES,
    CLI,
    MARK_END,
    MARK_START,
    ROOT,
    WRITE,
    Run,
    _convert,
    _env,
    _records,
    generate,
    measure,
    write_markdown,
)
from benchmarks.same_outputs import difference

JOB_HOUSEHOLDS = int(os.environ.get("MIDLAYOUT_BENCH_JOB_HOUSEHOLDS", "50000"))
JOB_SEEDS = [int(s) for s in os.environ.get("MIDLAYOUT_BENCH_JOB_SEEDS", "11,12,13,14").split(",")]
PROJECT_TO = 16  # workers in the Amdahl projection
GOAL_OVERHEAD = 1.3  # dask / local wall time, start-up included
DASK_START, DASK_END = "<!-- bench:dask:start -->", "<!-- bench:dask:end -->"
# One entry per municipality and source: (entry suffix, synth arguments, mappings, input file names)
JOB_SOURCES = [
    (
        "a",
        ["--vendor", "a"],
        ["vendor_a/juki-2.5.yaml", "vendor_a/kojin_juminzei-2.5.yaml"],
        ["JUMIN.DAT", "SETAI.DAT", "ZEI.DAT"],
    ),
    ("b_utf8", ["--vendor", "b"], ["vendor_b/juki-2.5.yaml"], ["person.csv", "household.csv"]),
    (
        "b_cp932",
        ["--vendor", "b", "--encoding", "cp932"],
        ["vendor_b/juki-2.5-cp932.yaml"],
        ["person.csv", "household.csv"],
    ),
]


@dataclass
class Measured:
    """A run and the manifest it wrote (a convert's manifest.json, or a job's job-manifest.json)."""

    run: Run
    manifest: dict[str, Any]


def _dask(workers: int) -> list[str]:
    return ["--executor", "dask", "--workers", str(workers)]


def _local(workers: int) -> list[str]:
    return ["--executor", "local", "--workers", str(workers)]


def _same(first: Path, second: Path) -> None:
    found = difference(first, second)
    if found:
        raise SystemExit(f"dask bench: {first} and {second} differ: {found}")


def convert_cases(a: Path, work: Path) -> dict[str, Measured]:
    """(a) and (c): local with 2 workers, dask with 2 and with 1, on the same files; outputs compared."""
    files = [a / "JUMIN.DAT", a / "SETAI.DAT"]
    nbytes = sum(p.stat().st_size for p in files)
    recs = _records(files[0], 302) + _records(files[1], 150)
    cases = {
        "local2": ("convert --executor local --workers 2", _local(2)),
        "dask2": ("convert --executor dask, 2-worker LocalCluster", _dask(2)),
        "dask1": ("convert --executor dask, 1-worker LocalCluster", _dask(1)),
    }
    out: dict[str, Measured] = {}
    for key, (label, flags) in cases.items():
        folder = work / f"convert-{key}"
        run = measure(
            label, _convert("vendor_a/juki-2.5.yaml", files, folder, *flags), nbytes, recs, ok=(0, 1)
        )
        out[key] = Measured(run, json.loads((folder / "manifest.json").read_text(encoding="utf-8")))
    for key in ("dask2", "dask1"):
        _same(work / "convert-local2", work / f"convert-{key}")
    print("  outputs: identical content, local and dask", flush=True)
    return out


def generate_job(folder: Path) -> dict[int, Path]:
    """4 municipalities' extracts (vendor A and vendor B in UTF-8 and CP932), reused when already there."""
    found = {}
    for seed in JOB_SEEDS:
        base = folder / f"job-{JOB_HOUSEHOLDS}-{seed}"
        for name, args, _, _ in JOB_SOURCES:
            out = base / name
            if not (out / ".complete").exists():
                print(f"  generating job input {out.relative_to(folder)}…", flush=True)
                subprocess.run(
                    [*CLI, "synth", *args, "-n", str(JOB_HOUSEHOLDS), "-s", str(seed), "-o", str(out)],
                    check=True,
                    cwd=ROOT,
                    env=_env(),
                    stdout=subprocess.DEVNULL,
                )
                (out / ".complete").touch()
        found[seed] = base
    return found


def job_file(municipalities: dict[int, Path], path: Path) -> tuple[Path, int]:
    """The 12-entry job (Parquet only, as bench_convert's cases) and the bytes of its inputs."""
    lines = [
        "job:",
        "  id: bench_dask_12",
        "  description: 4 synthetic municipalities x (A社 住基+個人住民税, B社 住基 UTF-8, B社 住基 CP932)",
        "  out: out",
        "  on_error: stop",
        "defaults:",
        "  writers:",
        "    parquet: {}",
        "entries:",
    ]
    nbytes = 0
    for n, base in enumerate(municipalities.values(), start=1):
        for name, _, mappings, inputs in JOB_SOURCES:
            lines += [f"  - id: m{n}_{name}", f'    municipality: "99990{n}"', "    mappings:"]
            lines += [f"      - {ROOT / 'mappings' / m}" for m in mappings]
            lines += ["    inputs:"] + [f"      - {base / name / i}" for i in inputs]
            nbytes += sum((base / name / i).stat().st_size for i in inputs)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, nbytes


def job_cases(folder: Path, work: Path) -> dict[str, Measured]:
    """(b): the 12-entry job with the local executor (entries one at a time) and with dask (concurrently)."""
    job, nbytes = job_file(generate_job(folder), work / "job-12.yaml")
    out: dict[str, Measured] = {}
    for key, label, flags in (
        ("local", "run, 12 entries, --executor local --workers 2", _local(2)),
        ("dask", "run, 12 entries, --executor dask, 2-worker LocalCluster", _dask(2)),
    ):
        target = work / f"job-{key}"
        run = measure(label, [*CLI, "run", str(job), "-o", str(target), *flags], nbytes, 1, ok=(0, 1))
        manifest = json.loads((target / "job-manifest.json").read_text(encoding="utf-8"))
        run.records = sum(e["records_read"] for e in manifest["entries"])
        out[key] = Measured(run, manifest)
    local, dask = (out[k].manifest["entries"] for k in ("local", "dask"))
    fields = ("id", "status", "exit_code", "run_id", "records_read", "records_written", "records_rejected")
    summary = [[e.get(f) for f in fields] for e in local]
    if summary != [[e.get(f) for f in fields] for e in dask]:
        raise SystemExit("dask bench: the job manifests differ (entries, order, status or counts)")
    if len(local) != 12 or any(e["status"] not in ("ok", "rejects") for e in local):
        raise SystemExit(f"dask bench: the job did not run its 12 entries: {[e['status'] for e in local]}")
    for entry in local:
        _same(work / "job-local" / entry["id"], work / "job-dask" / entry["id"])
    print("  job outputs: identical content, 12 entries in job-file order", flush=True)
    return out


def _ratio_row(label: str, r: Run, base: Run) -> str:
    return (
        f"| {label} | {r.seconds:.2f} | {r.cpu:.2f} | {r.records:,} | {r.rec_s:,.0f} | "
        f"{r.peak_rss / 2**20:,.0f} | {r.seconds / base.seconds:.2f}× | {r.cpu / base.cpu:.2f}× |"
    )


HEAD = [
    "| case | time (s) | CPU (s) | records | records/s | peak RSS (MiB) | time vs local | CPU vs local |",
    "|---|---|---|---|---|---|---|---|",
]


def serial_share(m: Measured) -> dict[str, float]:
    """The client's parts of one run, in seconds, from its wall time and manifest timings.

    `read_map_validate_s` is the phase whose pieces run on the workers (it also holds the lookup-table
    barrier, client work while the workers wait, so the serial share below is a lower bound); everything else
    is the client alone: start-up and planning before it (wall time minus the manifest's `total_s`),
    cross-file, write and commit, and rejects, reports and manifest after them."""
    t = m.manifest["timings"]
    parallel = float(t["read_map_validate_s"])
    crossfile, write, total = float(t["crossfile_s"]), float(t["write_s"]), float(t["total_s"])
    parts = {
        "start-up, imports, cluster start, planning": max(m.run.seconds - total, 0.0),
        "cross-file rules": crossfile,
        "writers (write + commit)": write,
        "rejects, reports, manifest": max(total - parallel - crossfile - write, 0.0),
    }
    return {"parallel": parallel, **parts, "serial": sum(parts.values())}


def amdahl(f: float, n: int) -> float:
    """Speed-up over one worker on n workers when a fraction f of the one-worker run is serial."""
    return 1 / (f + (1 - f) / n)


def report(conv: dict[str, Measured], job: dict[str, Measured]) -> tuple[str, list[str]]:
    """The markdown section, and the one-line verdicts printed at the end."""
    local, d2, d1 = (conv[k].run for k in ("local2", "dask2", "dask1"))
    overhead = d2.seconds / local.seconds
    verdict = "met" if overhead <= GOAL_OVERHEAD else "**not met**"
    executor = conv["dask2"].manifest.get("executor") or {}
    lines = [
        DASK_START,
        "",
        f"### Dask executor (issue #15), measured {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        (
            f"Same files as the fixed-width group ({local.records:,} records, {local.nbytes / 1e6:.0f} MB, "
            f"`convert -w parquet`); dask runs start a LocalCluster on this machine (start-up included). "
            f"Executor fields of the 2-worker run's manifest: `{json.dumps(executor, ensure_ascii=False)}`. "
            "Outputs of every dask run have identical content to the local run's (`benchmarks/same_outputs.py`)."
        ),
        "",
        *HEAD,
        _ratio_row("convert --executor local --workers 2", local, local),
        _ratio_row("convert --executor dask, 2-worker LocalCluster", d2, local),
        _ratio_row("convert --executor dask, 1-worker LocalCluster", d1, local),
        "",
        (
            f"Overhead, dask vs local with 2 workers: **{overhead:.2f}× wall** (goal ≤ {GOAL_OVERHEAD}×: {verdict}), "
            f"{d2.cpu / local.cpu:.2f}× CPU."
        ),
    ]
    verdicts = [
        (
            f"dask overhead (2-worker LocalCluster vs local --workers 2): {overhead:.2f}x wall "
            f"(goal <= {GOAL_OVERHEAD}x: {verdict.strip('*')}), {d2.cpu / local.cpu:.2f}x CPU"
        )
    ]
    if job:
        jl, jd = job["local"].run, job["dask"].run
        lines += [
            "",
            (
                f"**A job of 12 entries** (4 synthetic municipalities, seeds {', '.join(map(str, JOB_SEEDS))}, "
                f"{JOB_HOUSEHOLDS:,} households each × A社 住基 + 個人住民税, B社 住基 UTF-8, B社 住基 CP932; "
                f"{jl.nbytes / 1e6:.0f} MB). Local runs the entries one at a time, dask runs them concurrently "
                "on the cluster; same job manifest (entries in job-file order), outputs of identical content."
            ),
            "",
            *HEAD,
            _ratio_row("run --executor local --workers 2", jl, jl),
            _ratio_row("run --executor dask, 2-worker LocalCluster", jd, jl),
        ]
        verdicts.append(
            f"12-entry job: dask/local {jd.seconds / jl.seconds:.2f}x wall, {jd.cpu / jl.cpu:.2f}x CPU"
        )
    share = serial_share(conv["dask1"])
    f = share["serial"] / d1.seconds
    measured2 = d1.seconds / d2.seconds
    lines += [
        "",
        (
            "**Scaling** (dask, same files): "
            f"1 worker {d1.rec_s:,.0f} records/s, 2 workers {d2.rec_s:,.0f} records/s "
            f"(speed-up {measured2:.2f}×; Amdahl's bound from the share below predicts {amdahl(f, 2):.2f}× "
            "for 2 workers with a core each; here the client and both workers share 2 cores)."
        ),
        "",
        "Where the 1-worker run's time went (wall seconds; the client's parts from the manifest's `timings`):",
        "",
        "| part | runs on | s | share of the run |",
        "|---|---|---|---|",
        (
            f"| read → map → validate → stage (`read_map_validate_s`) | workers | {share['parallel']:.2f} | "
            f"{share['parallel'] / d1.seconds:.0%} |"
        ),
    ]
    for name in (
        "start-up, imports, cluster start, planning",
        "cross-file rules",
        "writers (write + commit)",
    ):
        lines.append(f"| {name} | client | {share[name]:.2f} | {share[name] / d1.seconds:.0%} |")
    lines += [
        (
            f"| rejects, reports, manifest | client | {share['rejects, reports, manifest']:.2f} | "
            f"{share['rejects, reports, manifest'] / d1.seconds:.0%} |"
        ),
        f"| **client, serial** | client | **{share['serial']:.2f}** | **{f:.0%}** |",
        "",
        (
            f"Serial share f = {f:.2f}: by Amdahl's law no number of workers makes this run more than "
            f"**{1 / f:.1f}×** faster than one worker. **Projection** (not measured): {PROJECT_TO} workers would give "
            f"at most {amdahl(f, PROJECT_TO):.1f}× over one worker, about "
            f"{share['serial'] + share['parallel'] / PROJECT_TO:.1f} s for these {d1.records:,} records "
            f"(≈ {d1.records / (share['serial'] + share['parallel'] / PROJECT_TO):,.0f} records/s), "
            "assuming the pieces scale perfectly and the shared filesystem keeps up. The lookup-table barrier is "
            "counted in the workers' phase, so the true share is a little larger and the bound a little lower."
        ),
        "",
        DASK_END,
    ]
    verdicts.append(
        f"serial share {f:.2f}: Amdahl bound {1 / f:.1f}x; projection for {PROJECT_TO} workers "
        f"{amdahl(f, PROJECT_TO):.1f}x over one worker"
    )
    return "\n".join(lines), verdicts


def write_section(section: str) -> None:
    """Put the section inside the generated block of BENCHMARKS.md, replacing an earlier dask section."""
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if DASK_START in old and DASK_END in old:
        head, rest = old.split(DASK_START, 1)
        path.write_text(head + section + rest.split(DASK_END, 1)[1], encoding="utf-8")
    elif MARK_START in old and MARK_END in old:
        head, rest = old.split(MARK_END, 1)
        path.write_text(head.rstrip("\n") + "\n\n" + section + "\n" + MARK_END + rest, encoding="utf-8")
    else:
        write_markdown(section)


def main() -> None:
    if "dask" not in CASES:
        print("  the dask group is not asked for (MIDLAYOUT_BENCH_CASES): nothing to do")
        return
    if importlib.util.find_spec("distributed") is None:
        raise SystemExit("dask bench: dask[distributed] is not installed (make install installs it)")
    keep = os.environ.get("MIDLAYOUT_BENCH_DIR")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="midlayout-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "out-dask"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        a = generate(folder)["a"]
        print("dask (convert, 1.45M records):", flush=True)
        conv = convert_cases(a, work)
        for key in ("local2", "dask2", "dask1"):
            shutil.rmtree(work / f"convert-{key}", ignore_errors=True)
        print("dask (run, 12 entries):", flush=True)
        job = job_cases(folder, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    section, verdicts = report(conv, job)
    print("\n" + section + "\n\n" + "\n".join(verdicts))
    if WRITE:
        write_section(section)
        print("\nwritten to BENCHMARKS.md")


if __name__ == "__main__":
    main()
