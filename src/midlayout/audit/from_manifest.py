"""Reconcile a convert run: its source extracts, re-mapped with rejected records left out, against each written output."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from midlayout.audit.inputs import Source, locate
from midlayout.audit.reconcile import Side, Step, Tolerances, certificate
from midlayout.audit.verify import read_manifest
from midlayout.errors import InputError, Location
from midlayout.layout.bundled import resolve_ref
from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Mapping, load_mapping
from midlayout.layout.model import Layout
from midlayout.layout.standard import sha256_file
from midlayout.mapping.compile import compile_file
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.options import options_of_run
from midlayout.pipeline.plan import lookup_tables
from midlayout.pipeline.readmap import read_input
from midlayout.rejects import FILE, REC

BATCH = 200_000


def _mappings(manifest: dict[str, Any], where: str) -> list[Mapping]:
    found = []
    for entry in manifest.get("mappings", []):
        path = resolve_ref(str(entry["path"]), Path(where).parent)
        if not path.is_file():
            raise InputError("mapping named by the manifest not found", Location(file=str(path)))
        if sha256_file(path) != entry["sha256"]:
            raise InputError(
                f"mapping changed since the run (sha256 differs from {where})", Location(file=str(path))
            )
        found.append(load_mapping(path))
    if not found:
        raise InputError(
            "the manifest names no mapping (a validate run has nothing to re-map)", Location(file=where)
        )
    return found


def _rejected(manifest: dict[str, Any], where: str) -> tuple[pl.DataFrame, Path]:
    paths = [
        resolve_ref(o["path"], Path(where).parent)
        for o in manifest["outputs"]
        if o.get("writer") == "rejects" and o["path"].endswith(".parquet")
    ]
    if not paths or not paths[0].is_file():
        raise InputError("rejects.parquet named by the manifest not found", Location(file=where))
    rejects = pl.read_parquet(paths[0], columns=["file", "record"]).unique()
    return rejects.rename({"file": FILE, "record": REC}), paths[0]


def _stage_job(
    job: Job,
    tables: dict[Any, pl.DataFrame],
    rejected: pl.DataFrame,
    folder: Path,
    n: int,
    gaiji: GaijiOptions,
) -> int:
    """Map one input as convert did, drop rejected records, stage the rest; return the records read."""
    compiled = compile_file(job.mapping, job.rule)
    items = compiled.target.item_ids
    folder.mkdir(parents=True, exist_ok=True)
    read = 0
    for batch in read_input(job.source, job.path, gaiji, compiled, tables, BATCH):
        read += batch.read.records_read
        good = batch.rows.with_columns(pl.col(REC).cast(pl.Int64)).join(rejected, on=[FILE, REC], how="anti")
        good.select(items).write_parquet(folder / f"{n:04d}-{read:012d}.parquet")
    schema = {it.id: polars_dtype(it) for it in compiled.target.items}
    pl.DataFrame(schema=schema).write_parquet(folder / f"{n:04d}-empty.parquet")
    return read


def source_side(
    manifest_path: Path, work: Path, step: Step
) -> tuple[Side, list[dict[str, Any]], dict[str, Layout]]:
    """The source side (staged in `work`), the records-read checks, and the layouts by ref."""
    manifest, where = read_manifest(manifest_path), str(manifest_path)
    mappings = _mappings(manifest, where)
    folder = manifest_path.parent
    jobs = match_inputs(
        mappings, [f"{i['source']}={resolve_ref(i['path'], folder)}" for i in manifest["inputs"]]
    )
    rejected, rejects_path = _rejected(manifest, where)
    gaiji = options_of_run(manifest, mappings, where).gaiji(mappings)  # the run's 外字 tables and policies
    tables = lookup_tables(jobs, BATCH, gaiji)  # convert's own lookups, so the source maps as in the run
    side, checks = Side("移行元 source (mapped − rejects)", hash_sources=False), []
    for n, (job, entry) in enumerate(zip(jobs, manifest["inputs"], strict=True)):
        step(f"re-reading {job.path}")
        layout, file = job.mapping.target, job.mapping.target.file(job.rule.target)
        key = layout.target(file.id)
        staged = work / key.replace("/", "_").replace(":", "__").replace("@", "_")
        named = str(entry.get("file", entry["path"]))  # how rejects.file names this input
        mine = rejected.filter(pl.col(FILE) == named).with_columns(pl.lit(str(job.path)).alias(FILE))
        read = _stage_job(job, tables, mine, staged, n, gaiji[job.mapping.id])
        checks.append(_read_check(job, entry, read))
        side.sources[key] = Source(str(staged), "parquet", staged / "*.parquet", layout, file)
        side.extra_files.append(("input", job.path))
    side.extra_files += [("mapping", m.path) for m in mappings] + [
        ("rejects", rejects_path),
        ("manifest", manifest_path),
    ]
    return side, checks, {m.target.ref: m.target for m in mappings}


def _read_check(job: Job, entry: dict[str, Any], read: int) -> dict[str, Any]:
    expected = int(entry.get("records_read", -1))
    return {
        "file": str(job.path),
        "figure": "records_read",
        "item": "",
        "value": "",
        "label": "読込件数 (records read: manifest vs re-read)",
        "left": expected,
        "right": read,
        "difference": read - expected,
        "tolerance": 0,
        "passed": read == expected,
    }


def output_sides(manifest: dict[str, Any], layouts: dict[str, Layout], folder: Path) -> list[Side]:
    """One side per writer (parquet, standard, duckdb) of the run; relative paths are read from `folder`."""
    sides: dict[str, Side] = {}
    for out in manifest["outputs"]:
        writer = out.get("writer")
        if writer in ("rejects", "text") or ":" not in str(out["target"]):  # reports, not layout data
            continue
        side = sides.setdefault(writer, Side(writer))
        for target in str(out["target"]).split(","):
            ref, file_id = target.rsplit(":", 1)
            layout = layouts[ref]
            path = str(resolve_ref(out["path"], folder))
            spec = f"{path}:{layout.gyomu}.{file_id}" if writer == "duckdb" else path
            side.sources[target] = locate(spec, layout, file_id)
    return list(sides.values())


def reconcile_run(
    manifest_path: Path, tol: Tolerances, step: Step = lambda _t: None, memory_limit: str = "2GB"
) -> dict[str, Any]:
    """Certificate of a convert run: source figures against every output's figures, plus records read."""
    with tempfile.TemporaryDirectory(prefix="midlayout-source-") as tmp:
        source, checks, layouts = source_side(manifest_path, Path(tmp), step)
        outputs = output_sides(read_manifest(manifest_path), layouts, manifest_path.parent)
        if not outputs:
            raise InputError("the manifest names no output to reconcile", Location(file=str(manifest_path)))
        certs = [certificate(source, side, tol, step, memory_limit) for side in outputs]
    for side, side_cert in zip(outputs, certs, strict=True):
        checks += [{**c, "file": f"{c['file']} [{side.label}]"} for c in side_cert["checks"]]
    files = {(f["side"], f["path"]): f for c in certs for f in c["files"]}
    return {
        **certs[0],
        "right": {"label": "出力 output (" + ", ".join(s.label for s in outputs) + ")"},
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
        "failed": sum(not c["passed"] for c in checks),
        "files": list(files.values()),
        "manifest": str(manifest_path),
    }
