"""`convert`: stream every input through map and validate, stage, check across files, then write."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

import midlayout
from midlayout.errors import UsageError
from midlayout.layout.gaiji import GaijiOptions, GaijiTable
from midlayout.layout.mapping import Lookup, Mapping
from midlayout.layout.model import FileDef, Layout
from midlayout.layout.standard import sha256_file
from midlayout.mapping.compile import apply, build_lookup_table, compile_file, polars_dtype
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.manifest import InputRecord, Manifest, write_atomic
from midlayout.pipeline.textreport import manifest_section, write_reports
from midlayout.readers import read_batches
from midlayout.readers.gaiji import empty_gaiji
from midlayout.rejects import FILE, OFF, PROVENANCE, RAW, REC, REJECT_SCHEMA, empty_rejects, rejects_from
from midlayout.validate.crossfile import ROW_ID, StagedFile, check_run
from midlayout.validate.schema import validate_rows
from midlayout.writers import Output, Writer, get_writer


class Progress(Protocol):
    """What the pipeline reports while it works (the CLI draws it on stderr)."""

    def start(self, task: str, total: int) -> None: ...
    def advance(self, task: str, amount: int) -> None: ...


class _Silent:
    def start(self, task: str, total: int) -> None:
        pass

    def advance(self, task: str, amount: int) -> None:
        pass


@dataclass
class ConvertResult:
    """What a run produced; `manifest` is also on disk as manifest.json."""

    manifest: Manifest
    out_dir: Path
    rejects: pl.DataFrame = field(default_factory=empty_rejects)

    @property
    def rejected(self) -> int:
        return sum(i.records_rejected for i in self.manifest.inputs)

    @property
    def flagged(self) -> int:
        """Records written with an unmapped 外字 kept in place (policy `flag`)."""
        return int(self.manifest.text.get("gaiji", {}).get("flagged_records", 0))


def _target_name(layout: Layout, file: FileDef) -> str:
    return f"{layout.id}:{file.id}"


def lookup_tables(jobs: list[Job], batch_size: int, gaiji: dict[str, GaijiOptions]) -> dict[Lookup, pl.DataFrame]:
    tables = {}
    for job in jobs:
        for lk in {r.lookup for r in job.rule.items if r.lookup}:
            src = next(j for j in jobs if j.mapping is job.mapping and j.source.id == lk.source)
            batches = read_batches(src.source, src.path, batch_size, gaiji[src.mapping.id])
            frames = [b.rows.select(lk.key, lk.value) for b in batches]
            tables[lk] = build_lookup_table(frames, lk)
    return tables


@dataclass
class _Stage:
    """Staged rows and rejects of a run, on disk under the output folder."""

    root: Path
    parts: dict[str, list[Path]] = field(default_factory=dict)
    reject_parts: list[Path] = field(default_factory=list)
    gaiji_parts: list[Path] = field(default_factory=list)

    def add_gaiji(self, frame: pl.DataFrame) -> None:
        if frame.height:
            path = self.root / f"gaiji-{len(self.gaiji_parts):05d}.parquet"
            frame.write_parquet(path)
            self.gaiji_parts.append(path)

    def gaiji(self) -> pl.DataFrame:
        return pl.concat([pl.read_parquet(p) for p in self.gaiji_parts]) if self.gaiji_parts else empty_gaiji()

    def add_rows(self, target: str, frame: pl.DataFrame) -> None:
        parts = self.parts.setdefault(target, [])
        path = self.root / f"{target.replace('/', '_').replace(':', '__')}-{len(parts):05d}.parquet"
        frame.write_parquet(path)
        parts.append(path)

    def add_rejects(self, frame: pl.DataFrame) -> None:
        if frame.height:
            path = self.root / f"rejects-{len(self.reject_parts):05d}.parquet"
            frame.write_parquet(path)
            self.reject_parts.append(path)

    def scan(self, target: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.parts[target]) if self.parts.get(target) else pl.LazyFrame()


def _stream_job(job: Job, tables: dict[Lookup, pl.DataFrame], stage: _Stage, record: InputRecord,
                batch_size: int, progress: Progress, gaiji: GaijiOptions) -> None:
    compiled = compile_file(job.mapping, job.rule)
    layout = job.mapping.target
    target = _target_name(layout, compiled.target)
    stage.parts.setdefault(target, [])
    progress.start(str(job.path), record.bytes)
    for batch in read_batches(job.source, job.path, batch_size, gaiji):
        record.records_read += batch.records_read
        stage.add_gaiji(batch.gaiji)
        mapped, map_rejects = apply(compiled, batch.rows, tables)
        valid, val_rejects = validate_rows(layout, compiled.target, mapped)
        stage.add_rows(target, valid)
        stage.add_rejects(pl.concat([batch.rejects, map_rejects, val_rejects]))
        progress.advance(str(job.path), batch.bytes_read)
    if not stage.parts[target]:  # an empty input still stages a typed, empty frame
        schema: dict[str, pl.DataType] = {FILE: pl.String(), REC: pl.Int64(), OFF: pl.Int64(), RAW: pl.Binary()}
        schema |= {it.id: polars_dtype(it) for it in compiled.target.items}
        stage.add_rows(target, pl.DataFrame(schema=schema))


def _cross_rejects(stage: _Stage, staged: dict[str, StagedFile]) -> tuple[dict[str, pl.DataFrame], list[str]]:
    result = check_run(staged)
    for name, ids in result.rejects.items():
        if ids.height:
            rows = stage.scan(name).select(*PROVENANCE).join(ids.lazy(), on=ROW_ID).collect()
            stage.add_rejects(rejects_from(rows, stage="crossfile", rule=pl.col("rule"), item=pl.col("item"),
                                           message=pl.col("message")))
    return result.rejects, result.unchecked


def _write_targets(stage: _Stage, staged: dict[str, StagedFile], rejected: dict[str, pl.DataFrame],
                   writers: list[Writer]) -> pl.DataFrame:
    """Stream each target's surviving rows to every writer; return written counts per input file."""
    counts = []
    for name, sf in staged.items():
        for w in writers:
            w.start(sf.layout, sf.file)
        drop = rejected[name].select(ROW_ID).lazy()
        for part in stage.parts[name]:
            good = pl.scan_parquet(part).join(drop, on=ROW_ID, how="anti").collect()
            counts.append(good.group_by(FILE).agg(pl.len().alias("n")))
            rows = good.drop(list(PROVENANCE))
            for w in writers:
                w.write(sf.layout, sf.file, rows)
    return pl.concat(counts).group_by(FILE).agg(pl.col("n").sum()) if counts else pl.DataFrame(schema={FILE: pl.String, "n": pl.UInt32})


def _write_rejects(stage: _Stage, out_dir: Path) -> pl.DataFrame:
    rejects = pl.concat([pl.read_parquet(p) for p in stage.reject_parts]) if stage.reject_parts else empty_rejects()
    rejects = rejects.cast(REJECT_SCHEMA).sort("file", "record", "stage")  # type: ignore[arg-type]
    for name, frame in (("rejects.parquet", rejects), ("rejects.csv", rejects.with_columns(pl.col("raw").bin.encode("hex")))):
        temp = out_dir / f".{name}.tmp"
        frame.write_parquet(temp) if name.endswith(".parquet") else frame.write_csv(temp)
        temp.replace(out_dir / name)
    return rejects


def load_id(manifest: Manifest) -> str:
    """The identity of a run's data: sha256 over the inputs', mappings' and layouts' sha256s.

    Rerunning the same inputs through the same mappings and layouts gives the same id, wherever the files
    lie; a database writer uses it to make a rerun a no-op.
    """
    identity = {
        "inputs": sorted((i.mapping, i.source, i.sha256) for i in manifest.inputs),
        "mappings": sorted((m["id"], m["sha256"]) for m in manifest.mappings),
        "layouts": sorted((lay["id"], lay["version"], lay["sha256"]) for lay in manifest.layouts),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def plan_load_id(mappings: list[Mapping], inputs: list[str]) -> str:
    """The load id a conversion of `inputs` through `mappings` would have (hashes the inputs; converts nothing)."""
    return load_id(_manifest(mappings, match_inputs(mappings, inputs)))


def _manifest(mappings: list[Mapping], jobs: list[Job]) -> Manifest:
    layouts = {m.target.ref: m.target for m in mappings}
    return Manifest(
        tool={"name": "midlayout", "version": midlayout.__version__, "python": platform.python_version(),
              "polars": pl.__version__},
        layouts=[{"id": lay.id, "version": lay.version, "path": str(lay.path), "sha256": lay.sha256} for lay in layouts.values()],
        mappings=[{"id": m.id, "version": m.version, "target": m.target.ref, "path": str(m.path), "sha256": m.sha256}
                  for m in mappings],
        inputs=[InputRecord(str(j.path), j.source.id, j.mapping.id, f"{j.mapping.target.ref}:{j.rule.target}",
                            j.path.stat().st_size, sha256_file(j.path), j.source.encoding) for j in jobs],
    )


@contextmanager
def _staging(out_dir: Path) -> Iterator[_Stage]:
    root = out_dir / ".staging"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        yield _Stage(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def gaiji_options(mappings: list[Mapping], table: GaijiTable | None, unmapped: str | None) -> dict[str, GaijiOptions]:
    """Per mapping: its own 外字 table and policy, overridden by the run's (`--gaiji`, `--gaiji-unmapped`)."""
    return {m.id: GaijiOptions(table or m.gaiji.table, unmapped or m.gaiji.unmapped, None if table else m.gaiji.encoding)
            for m in mappings}


def _writers(writer_names: list[str], options: dict[str, dict[str, Any]], out_dir: Path, run_id: str) -> list[Writer]:
    stray = sorted(set(options) - set(writer_names))
    if stray:
        raise UsageError(f"options given for writer {stray[0]!r}, which is not among the writers of this run")
    classes = [get_writer(n) for n in writer_names]
    writers: list[Writer] = []
    try:
        for name, cls in zip(writer_names, classes, strict=True):
            writers.append(cls(out_dir, options.get(name, {}), run_id))
    except BaseException:
        for w in writers:
            w.abort()
        raise
    return writers


def convert(mappings: list[Mapping], inputs: list[str], out_dir: Path, writer_names: list[str],
            batch_size: int = 100_000, progress: Progress | None = None,
            writer_options: dict[str, dict[str, Any]] | None = None, gaiji_table: GaijiTable | None = None,
            gaiji_unmapped: str | None = None) -> ConvertResult:
    """Convert `inputs` through `mappings` into `out_dir`; the manifest is written last, only on success.

    `writer_options` maps a writer name to its options (see each writer's OPTIONS). `gaiji_table` and
    `gaiji_unmapped` ("reject" or "flag") override what the mappings name.
    """
    progress = progress or _Silent()
    gaiji = gaiji_options(mappings, gaiji_table, gaiji_unmapped)
    jobs = match_inputs(mappings, inputs)
    if len(set(writer_names)) != len(writer_names):
        raise UsageError("a writer is named twice")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)  # the folder must not look complete until we finish
    for stale in out_dir.rglob(".*.tmp*"):  # temp files of an interrupted run; never a final name
        stale.unlink()
    manifest = _manifest(mappings, jobs)
    manifest.load_id = load_id(manifest)
    t0 = time.perf_counter()
    # Writers are built (and their options checked) before any work; they connect or open files lazily.
    writers = _writers(writer_names, writer_options or {}, out_dir, manifest.load_id)
    try:
        outputs, written, rejects, occurrences = _run(jobs, manifest, out_dir, writers, batch_size, progress, t0, gaiji)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    reports = write_reports(out_dir, occurrences, rejects)
    manifest.text = manifest_section(reports, occurrences, gaiji)
    _finish_manifest(manifest, out_dir, outputs, written, rejects, reports, t0)
    return ConvertResult(manifest, out_dir, rejects)


def _run(jobs: list[Job], manifest: Manifest, stage_dir: Path, writers: list[Writer], batch_size: int,
         progress: Progress, t0: float, gaiji: dict[str, GaijiOptions],
         ) -> tuple[list[Output], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Read, map, validate and stage; check across files; then write, prepare and commit every writer."""
    with _staging(stage_dir) as stage:
        tables = lookup_tables(jobs, batch_size, gaiji)
        for job, record in zip(jobs, manifest.inputs, strict=True):
            _stream_job(job, tables, stage, record, batch_size, progress, gaiji[job.mapping.id])
        manifest.timings["read_map_validate_s"] = round(time.perf_counter() - t0, 3)
        staged = {_target_name(j.mapping.target, j.mapping.target.file(j.rule.target)):
                  StagedFile(j.mapping.target, j.mapping.target.file(j.rule.target),
                             stage.scan(_target_name(j.mapping.target, j.mapping.target.file(j.rule.target))))
                  for j in jobs}
        rejected, manifest.unchecked = _cross_rejects(stage, staged)
        written = _write_targets(stage, staged, rejected, writers)
        for w in writers:  # everything that can fail, in every writer, before anything becomes visible
            w.prepare()
        outputs: list[Output] = [o for w in writers for o in w.commit()]
        rejects = _write_rejects(stage, stage_dir)
        occurrences = stage.gaiji()
    return outputs, written, rejects, occurrences


def _finish_manifest(manifest: Manifest, out_dir: Path, outputs: list[Output], written: pl.DataFrame,
                     rejects: pl.DataFrame, reports: dict[str, pl.DataFrame], t0: float) -> None:
    _count(manifest, written, rejects)
    manifest.outputs = [vars(o) for o in outputs] + [
        {"writer": "rejects", "path": str(out_dir / n), "target": "rejects", "rows": rejects.height,
         "sha256": sha256_file(out_dir / n)} for n in ("rejects.parquet", "rejects.csv")] + [
        {"writer": "text", "path": str(out_dir / n), "target": n.removesuffix(".csv"), "rows": r.height,
         "sha256": sha256_file(out_dir / n)} for n, r in reports.items()]
    manifest.rejects = _reject_summary(rejects)
    manifest.timings["total_s"] = round(time.perf_counter() - t0, 3)
    manifest.check_conservation()
    flagged = manifest.text["gaiji"]["flagged_records"]
    manifest.status = "rejects" if rejects.height else "flagged" if flagged else "ok"
    manifest.exit_code = 0 if manifest.status == "ok" else 1
    write_atomic(out_dir / "manifest.json", manifest.to_json().encode("utf-8"))


def _count(manifest: Manifest, written: pl.DataFrame, rejects: pl.DataFrame) -> None:
    by_file = dict(written.iter_rows())
    rejected = dict(rejects.group_by("file").agg(pl.col("record").n_unique()).iter_rows())
    for inp in manifest.inputs:
        inp.records_written = int(by_file.get(inp.path, 0))
        inp.records_rejected = int(rejected.get(inp.path, 0))


def _reject_summary(rejects: pl.DataFrame) -> dict[str, object]:
    by_rule = rejects.group_by("stage", "rule").agg(pl.len().alias("n")).sort("stage", "rule")
    return {
        "rows": rejects.height,
        "records": rejects.select("file", "record").unique().height,
        "by_rule": [{"stage": s, "rule": r, "count": n} for s, r, n in by_rule.iter_rows()],
    }


__all__ = ["OFF", "RAW", "REC", "ConvertResult", "convert", "load_id", "plan_load_id"]
