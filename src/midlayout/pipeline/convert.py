"""`convert`: stream every input through map and validate, stage, check across files, then write."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

import midlayout
from midlayout.errors import UsageError
from midlayout.layout.gaiji import GaijiOptions, GaijiTable
from midlayout.layout.mapping import Lookup, Mapping
from midlayout.layout.standard import sha256_file
from midlayout.mapping.compile import build_lookup_table, compile_file, polars_dtype
from midlayout.pipeline.batches import (
    STAGE_COMPRESSION,
    BatchRunner,
    Done,
    Pipeline,
    Task,
    auto_workers,
    execution_order,
    stage_lookup_table,
    target_name,
)
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.manifest import InputRecord, Manifest, write_atomic
from midlayout.pipeline.textreport import manifest_section, write_reports
from midlayout.readers import DEFAULT_BATCH_SIZE, plan_batches, read_batches
from midlayout.readers.gaiji import empty_gaiji
from midlayout.rejects import (
    FILE,
    LEN,
    OFF,
    RAW,
    REC,
    REJECT_SCHEMA,
    STAGED_PROVENANCE,
    empty_rejects,
    rejects_from,
    with_raw,
)
from midlayout.validate.crossfile import ROW_ID, StagedFile, check_run
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


def _lookup_source(jobs: list[Job], job: Job, lk: Lookup) -> int:
    return next(i for i, j in enumerate(jobs) if j.mapping is job.mapping and j.source.id == lk.source)


def _read_lookup(
    jobs: list[Job], job: Job, lk: Lookup, batch_size: int, gaiji: dict[str, GaijiOptions]
) -> pl.DataFrame:
    src = jobs[_lookup_source(jobs, job, lk)]
    batches = read_batches(src.source, src.path, batch_size, gaiji[src.mapping.id])
    return build_lookup_table([b.rows.select(lk.key, lk.value) for b in batches], lk)


def lookup_tables(
    jobs: list[Job], batch_size: int, gaiji: dict[str, GaijiOptions]
) -> dict[Lookup, pl.DataFrame]:
    """Every lookup table of the run, each read from its source file (`convert` captures them instead)."""
    return {
        lk: _read_lookup(jobs, job, lk, batch_size, gaiji)
        for job in jobs
        for lk in {r.lookup for r in job.rule.items if r.lookup}
    }


def _lookups(job: Job) -> set[Lookup]:
    return {r.lookup for r in job.rule.items if r.lookup}


def _capture_plan(jobs: list[Job]) -> dict[int, list[Lookup]]:
    """Per lookup source job: the lookups whose key and value columns its own pass captures."""
    plan: dict[int, list[Lookup]] = {}
    for job in jobs:
        for lk in sorted(_lookups(job), key=repr):
            plan.setdefault(_lookup_source(jobs, job, lk), []).append(lk)
    return plan


@dataclass
class _Stage:
    """Staged rows and rejects of a run, on disk under the output folder (part names sort in run order)."""

    root: Path
    parts: dict[str, list[Path]] = field(default_factory=dict)
    reject_parts: list[Path] = field(default_factory=list)
    gaiji_parts: list[Path] = field(default_factory=list)

    def add(self, target: str, done: Done) -> None:
        self.parts.setdefault(target, []).append(done.rows)
        if done.rejects is not None:
            self.reject_parts.append(done.rejects)
        if done.gaiji is not None:
            self.gaiji_parts.append(done.gaiji)

    def sort(self) -> None:
        """Batches finish in any order across jobs; outputs follow input order."""
        for paths in (*self.parts.values(), self.reject_parts, self.gaiji_parts):
            paths.sort(key=lambda p: p.name.rsplit("-", 2)[-2:])

    def gaiji(self) -> pl.DataFrame:
        return (
            pl.concat([pl.read_parquet(p) for p in self.gaiji_parts]) if self.gaiji_parts else empty_gaiji()
        )

    def add_rows(self, target: str, frame: pl.DataFrame) -> None:
        parts = self.parts.setdefault(target, [])
        path = self.root / f"{target.replace('/', '_').replace(':', '__')}-{len(parts):05d}.parquet"
        frame.write_parquet(path, compression=STAGE_COMPRESSION)
        parts.append(path)

    def add_rejects(self, frame: pl.DataFrame) -> None:
        if frame.height:
            path = self.root / f"rejects-9999-{len(self.reject_parts):06d}.parquet"
            frame.write_parquet(path, compression=STAGE_COMPRESSION)
            self.reject_parts.append(path)


class _Run:
    """Feeds every job's batches to the pipeline; lookup sources first, their columns captured on the way."""

    def __init__(
        self,
        jobs: list[Job],
        records: list[InputRecord],
        stage: _Stage,
        batch_size: int,
        progress: Progress,
        gaiji: dict[str, GaijiOptions],
        validator: str,
    ) -> None:
        self.jobs, self.records, self.stage, self.validator = jobs, records, stage, validator
        self.batch_size, self.progress, self.gaiji = batch_size, progress, gaiji
        self.captures = _capture_plan(jobs)
        self.captured: dict[Lookup, list[Path]] = {}
        self.submitted: set[int] = set()
        self.done_jobs: set[int] = set()  # every batch handled
        self.tables: dict[Lookup, str] = {}

    def on_done(self, done: Done) -> None:
        job = self.jobs[done.job]
        record = self.records[done.job]
        record.records_read += done.records_read
        self.stage.add(target_name(job), done)
        for lk, part in done.captured.items():
            self.captured.setdefault(lk, []).append(part)
        self.progress.advance(str(job.path), done.bytes_read)

    def _tables_for(self, i: int, pipeline: Pipeline) -> tuple[tuple[Lookup, str], ...]:
        needed = sorted(_lookups(self.jobs[i]), key=repr)
        if needed:
            pipeline.drain()  # the sources' batches must all be in
            self.done_jobs |= self.submitted
        out = []
        for lk in needed:
            if lk not in self.tables:
                src = _lookup_source(self.jobs, self.jobs[i], lk)
                path = self.stage.root / f"lookup-{len(self.tables):03d}.parquet"
                if src in self.done_jobs and lk in self.captures.get(src, ()):
                    stage_lookup_table(sorted(self.captured.get(lk, [])), lk, path, self.stage.root / "spill")
                else:  # its source has not run yet (lookups in a chain): read the source for it
                    table = _read_lookup(self.jobs, self.jobs[i], lk, self.batch_size, self.gaiji)
                    table.write_parquet(path, compression=STAGE_COMPRESSION)
                self.tables[lk] = str(path)
            out.append((lk, self.tables[lk]))
        return tuple(out)

    def run(self, workers: int) -> None:
        runner = BatchRunner(self.jobs, self.gaiji, self.stage.root, self.captures, self.validator)
        pipeline = Pipeline(runner, workers, self.on_done)
        try:
            for i in execution_order(self.jobs, self.captures):
                job = self.jobs[i]
                tables = self._tables_for(i, pipeline)
                self.progress.start(str(job.path), self.records[i].bytes)
                for seq, piece in enumerate(plan_batches(job.source, job.path, self.batch_size)):
                    pipeline.submit(Task(i, seq, piece, tables))
                self.submitted.add(i)
            pipeline.drain()
        finally:
            pipeline.close()
        self.stage.sort()
        for job in self.jobs:  # an empty input still stages a typed, empty frame
            target = target_name(job)
            if not self.stage.parts.get(target):
                compiled = compile_file(job.mapping, job.rule)
                schema: dict[str, pl.DataType] = {
                    FILE: pl.String(),
                    REC: pl.Int64(),
                    OFF: pl.Int64(),
                    LEN: pl.Int64(),
                }
                schema |= {it.id: polars_dtype(it) for it in compiled.target.items}
                self.stage.add_rows(target, pl.DataFrame(schema=schema))


def _cross_rejects(stage: _Stage, staged: dict[str, StagedFile]) -> tuple[dict[str, pl.DataFrame], list[str]]:
    result = check_run(staged, stage.root / "crossfile")
    for name, ids in result.rejects.items():
        if ids.height:
            # Part by part: only the rejected records' provenance is read (their `_rec` prefilters the scan),
            # then their raw bytes are read back from the inputs.
            recs = ids.get_column(REC).unique()
            rows = with_raw(
                pl.concat(
                    [
                        pl.scan_parquet(part)
                        .select(*STAGED_PROVENANCE)
                        .filter(pl.col(REC).is_in(recs.implode()))
                        .join(ids.lazy(), on=ROW_ID)
                        .collect()
                        for part in stage.parts[name]
                    ]
                )
            )
            stage.add_rejects(
                rejects_from(
                    rows,
                    stage="crossfile",
                    rule=pl.col("rule"),
                    item=pl.col("item"),
                    message=pl.col("message"),
                )
            )
    return result.rejects, result.unchecked


def _write_targets(
    staged: dict[str, StagedFile], rejected: dict[str, pl.DataFrame], writers: list[Writer]
) -> pl.DataFrame:
    """Stream each target's surviving rows to every writer; return written counts per input file."""
    counts = []
    for name, sf in staged.items():
        for w in writers:
            w.start(sf.layout, sf.file)
        drop = rejected[name].select(ROW_ID).lazy()
        for part in sf.parts:  # one part in memory at a time; the rejected ids are few
            good = pl.scan_parquet(part).join(drop, on=ROW_ID, how="anti").collect()
            counts.append(good.group_by(FILE).agg(pl.len().alias("n")))
            rows = good.drop(list(STAGED_PROVENANCE))
            for w in writers:
                w.write(sf.layout, sf.file, rows)
    return (
        pl.concat(counts).group_by(FILE).agg(pl.col("n").sum())
        if counts
        else pl.DataFrame(schema={FILE: pl.String, "n": pl.UInt32})
    )


def _write_rejects(stage: _Stage, out_dir: Path) -> pl.DataFrame:
    rejects = (
        pl.concat([pl.read_parquet(p) for p in stage.reject_parts]) if stage.reject_parts else empty_rejects()
    )
    rejects = rejects.cast(REJECT_SCHEMA).sort("file", "record", "stage", maintain_order=True)  # type: ignore[arg-type]
    for name, frame in (
        ("rejects.parquet", rejects),
        ("rejects.csv", rejects.with_columns(pl.col("raw").bin.encode("hex"))),
    ):
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


def _manifest(mappings: list[Mapping], jobs: list[Job], hashes: list[str] | None = None) -> Manifest:
    layouts = {m.target.ref: m.target for m in mappings}
    return Manifest(
        tool={
            "name": "midlayout",
            "version": midlayout.__version__,
            "python": platform.python_version(),
            "polars": pl.__version__,
        },
        layouts=[
            {"id": lay.id, "version": lay.version, "path": str(lay.path), "sha256": lay.sha256}
            for lay in layouts.values()
        ],
        mappings=[
            {
                "id": m.id,
                "version": m.version,
                "target": m.target.ref,
                "path": str(m.path),
                "sha256": m.sha256,
            }
            for m in mappings
        ],
        inputs=[
            InputRecord(
                str(j.path),
                j.source.id,
                j.mapping.id,
                f"{j.mapping.target.ref}:{j.rule.target}",
                j.path.stat().st_size,
                hashes[i] if hashes is not None else sha256_file(j.path),
                j.source.encoding,
            )
            for i, j in enumerate(jobs)
        ],
    )


class _Hasher:
    """sha256 of every input, in a background thread (hashlib releases the GIL) while the batches run."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._digests: list[str] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="midlayout-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digests = [sha256_file(path, self._stop) for path in self._paths]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> list[str]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digests

    def stop(self) -> None:
        self._stop.set()


@contextmanager
def _staging(out_dir: Path) -> Iterator[_Stage]:
    root = out_dir / ".staging"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        yield _Stage(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def gaiji_options(
    mappings: list[Mapping], table: GaijiTable | None, unmapped: str | None
) -> dict[str, GaijiOptions]:
    """Per mapping: its own 外字 table and policy, overridden by the run's (`--gaiji`, `--gaiji-unmapped`)."""
    return {
        m.id: GaijiOptions(
            table or m.gaiji.table, unmapped or m.gaiji.unmapped, None if table else m.gaiji.encoding
        )
        for m in mappings
    }


def _writers(
    writer_names: list[str], options: dict[str, dict[str, Any]], out_dir: Path, run_id: str
) -> list[Writer]:
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


def convert(
    mappings: list[Mapping],
    inputs: list[str],
    out_dir: Path,
    writer_names: list[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    writer_options: dict[str, dict[str, Any]] | None = None,
    gaiji_table: GaijiTable | None = None,
    gaiji_unmapped: str | None = None,
    workers: int | None = None,
    validator: str = "fused",
) -> ConvertResult:
    """Convert `inputs` through `mappings` into `out_dir`; the manifest is written last, only on success.

    `writer_options` maps a writer name to its options (see each writer's OPTIONS). `gaiji_table` and
    `gaiji_unmapped` ("reject" or "flag") override what the mappings name. `workers` processes read, map
    and validate batches (None: one per CPU for large inputs, else in-process); the outputs are the same
    whatever the number. `validator` is "fused" (one polars `select` per batch) or "pandera" (the same
    rules as a pandera schema; `midlayout validate` uses it); both give the same rejects.
    """
    if validator not in ("fused", "pandera"):
        raise UsageError(f"unknown validator {validator!r} (fused or pandera)")
    progress = progress or _Silent()
    gaiji = gaiji_options(mappings, gaiji_table, gaiji_unmapped)
    jobs = match_inputs(mappings, inputs)
    if len(set(writer_names)) != len(writer_names):
        raise UsageError("a writer is named twice")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)  # the folder must not look complete until we finish
    for stale in out_dir.rglob(".*.tmp*"):  # temp files of an interrupted run; never a final name
        stale.unlink()
    t0 = time.perf_counter()
    hasher = _Hasher([j.path for j in jobs])  # overlaps the read phase; the load id waits for it
    manifest = _manifest(mappings, jobs, [""] * len(jobs))
    manifest.tool["validator"] = validator
    # Writers are built once now, so that a bad option fails before any work (they connect and open files
    # lazily), and again with the run's load id, which needs the inputs' sha256s, before the write phase.
    for w in _writers(writer_names, writer_options or {}, out_dir, "0" * 64):
        w.abort()
    writers: list[Writer] = []

    def make_writers() -> list[Writer]:
        for record, digest in zip(manifest.inputs, hasher.result(), strict=True):
            record.sha256 = digest
        manifest.load_id = load_id(manifest)
        writers[:] = _writers(writer_names, writer_options or {}, out_dir, manifest.load_id)
        return writers

    try:
        outputs, written, rejects, occurrences = _run(
            jobs,
            manifest,
            out_dir,
            make_writers,
            batch_size,
            progress,
            t0,
            gaiji,
            workers or auto_workers(jobs),
            validator,
        )
    except BaseException:
        hasher.stop()
        for w in writers:
            w.abort()
        raise
    reports = write_reports(out_dir, occurrences, rejects)
    manifest.text = manifest_section(reports, occurrences, gaiji)
    _finish_manifest(manifest, out_dir, outputs, written, rejects, reports, t0)
    return ConvertResult(manifest, out_dir, rejects)


def _run(
    jobs: list[Job],
    manifest: Manifest,
    stage_dir: Path,
    make_writers: Callable[[], list[Writer]],
    batch_size: int,
    progress: Progress,
    t0: float,
    gaiji: dict[str, GaijiOptions],
    workers: int,
    validator: str,
) -> tuple[list[Output], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Read, map, validate and stage; check across files; then write, prepare and commit every writer."""
    with _staging(stage_dir) as stage:
        _Run(jobs, manifest.inputs, stage, batch_size, progress, gaiji, validator).run(workers)
        manifest.timings["read_map_validate_s"] = round(time.perf_counter() - t0, 3)
        staged = {
            target_name(j): StagedFile(
                j.mapping.target, j.mapping.target.file(j.rule.target), stage.parts[target_name(j)]
            )
            for j in jobs
        }
        t1 = time.perf_counter()
        rejected, manifest.unchecked = _cross_rejects(stage, staged)
        manifest.timings["crossfile_s"] = round(time.perf_counter() - t1, 3)
        t1 = time.perf_counter()
        writers = make_writers()
        written = _write_targets(staged, rejected, writers)
        for w in writers:  # everything that can fail, in every writer, before anything becomes visible
            w.prepare()
        outputs: list[Output] = [o for w in writers for o in w.commit()]
        manifest.timings["write_s"] = round(time.perf_counter() - t1, 3)
        rejects = _write_rejects(stage, stage_dir)
        occurrences = stage.gaiji()
    return outputs, written, rejects, occurrences


def _finish_manifest(
    manifest: Manifest,
    out_dir: Path,
    outputs: list[Output],
    written: pl.DataFrame,
    rejects: pl.DataFrame,
    reports: dict[str, pl.DataFrame],
    t0: float,
) -> None:
    _count(manifest, written, rejects)
    manifest.outputs = (
        [vars(o) for o in outputs]
        + [
            {
                "writer": "rejects",
                "path": str(out_dir / n),
                "target": "rejects",
                "rows": rejects.height,
                "sha256": sha256_file(out_dir / n),
            }
            for n in ("rejects.parquet", "rejects.csv")
        ]
        + [
            {
                "writer": "text",
                "path": str(out_dir / n),
                "target": n.removesuffix(".csv"),
                "rows": r.height,
                "sha256": sha256_file(out_dir / n),
            }
            for n, r in reports.items()
        ]
    )
    manifest.rejects = _reject_summary(rejects)
    manifest.timings["total_s"] = round(time.perf_counter() - t0, 3)
    manifest.check_conservation()
    flagged = manifest.text["gaiji"]["flagged_records"]
    manifest.status = "rejects" if rejects.height else "flagged" if flagged else "ok"
    manifest.exit_code = 0 if manifest.status == "ok" else 1
    write_atomic(out_dir / "manifest.json", manifest.to_json(out_dir).encode("utf-8"))


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
