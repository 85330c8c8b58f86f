"""Side by side in one sitting: base (3e37325, `git archive 3e37325 src | tar -x -C /tmp/csvwork/base`) vs this
branch; CSV convert UTF-8/CP932 (wall, tree peak RSS via benchmarks/bench_convert.measure, tree CPU) + polars read_csv.
Usage: .venv/bin/python changes/csv_bench.py REPS [base,new]"""

import json
import resource
import shutil
import sys
from pathlib import Path

sys.path.insert(0, "/work/wt-csv/benchmarks")
from bench_convert import measure, PY, CLI  # noqa

U = Path("/work/benchdata/b_utf8-450000-1")
C = Path("/work/benchdata/b_cp932-450000-1")
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 2
which = sys.argv[2].split(",") if len(sys.argv) > 2 else ["base", "new"]
size_u = sum((U / n).stat().st_size for n in ("person.csv", "household.csv"))
size_c = sum((C / n).stat().st_size for n in ("person.csv", "household.csv"))
recs = 1_450_000
res = {}


def conv(tag, folder, mapping, size):
    out = Path(f"/tmp/csvwork/out-{tag}")
    shutil.rmtree(out, ignore_errors=True)
    env = ["env", f"PYTHONPATH={'/tmp/csvwork/base/src' if tag.startswith('base') else '/work/wt-csv/src'}"]
    cmd = (
        env
        + CLI
        + [
            "convert",
            "-m",
            f"mappings/vendor_b/{mapping}",
            str(folder / "person.csv"),
            str(folder / "household.csv"),
            "-o",
            str(out),
            "-w",
            "parquet",
        ]
    )
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = measure(tag, cmd, size, recs, ok=(0, 1))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(f"    cpu {cpu:.1f} s", flush=True)
    res.setdefault(tag, []).append((r.seconds, r.peak_rss, cpu))


code = "import sys, polars as pl\nfor p in sys.argv[1:]: pl.read_csv(p)"
for _i in range(reps):
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = measure(
        "polars read_csv (UTF-8)",
        [PY, "-c", code, str(U / "person.csv"), str(U / "household.csv")],
        size_u,
        recs,
    )
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(f"    cpu {cpu:.1f} s", flush=True)
    res.setdefault("polars", []).append((r.seconds, r.peak_rss, cpu))
    for w in which:
        conv(f"{w} utf8", U, "juki-2.5.yaml", size_u)
        conv(f"{w} cp932", C, "juki-2.5-cp932.yaml", size_c)
print(json.dumps(res))
