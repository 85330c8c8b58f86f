"""`convert`: stream every input through read → map → validate, stage and write, check across files, then
write again only the targets the cross-file rules rejected rows from.

The steps live in their own modules: `options` (what a run takes, checked), `plan` (staging keys,
lookups, execution order), `readphase` and `batches` (the batches, here or in worker processes),
`staging` (staged parts, cross-file rejects, the rejects files), `session` (the writers as one unit; the
streaming ones get each staged part as it arrives),
`run_manifest` (the manifest and run identity), and `lock` and `outputset` (one run per output folder,
built apart and swapped in whole; docs/run-integrity.md). This module only puts them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from midlayout import kernels
from midlayout.layout.mapping import Mapping
from midlayout.outpaths import out_folder
from midlayout.pipeline.executors import Executor, executor_for
from midlayout.pipeline.faults import fault
from midlayout.pipeline.inputs import Job, match_inputs, preflight_jobs
from midlayout.pipeline.lock import locked
from midlayout.pipeline.manifest import Manifest
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.outputset import OutputSet, dir_mode, private_umask
from midlayout.pipeline.readphase import Progress, ReadPhase, Silent, phase
from midlayout.pipeline.run_manifest import (
    InputHasher,
    build_manifest,
    dates_section,
    finish_manifest,
    plan_run_id,
    run_id,
    validation_section,
)
from midlayout.pipeline.session import WriterSession
from midlayout.pipeline.staging import cross_rejects, staging
from midlayout.pipeline.textreport import manifest_section, write_reports
from midlayout.rejects import DETAIL, OFF, RAW, REC, REJECT_SCHEMA, empty_rejects, unmapped_codes


@dataclass
class ConvertResult:
    """What a run produced; `manifest` is also on disk as manifest.json."""

    manifest: Manifest
    out_dir: Path
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_SCHEMA))
    # distinct unmapped vendor codes with counts (rejects.unmapped_codes): for the terminal, never the manifest
    unmapped: pl.DataFrame = field(default_factory=lambda: unmapped_codes(empty_rejects()))

    @property
    def rejected(self) -> int:
        return sum(i.records_rejected for i in self.manifest.inputs)

    @property
    def flagged(self) -> int:
        """Records written with an unmapped 外字 kept in place (policy `flag`)."""
        return int(self.manifest.text.get("gaiji", {}).get("flagged_records", 0))


def convert(
    mappings: list[Mapping],
    inputs: list[str],
    out_dir: Path,
    options: ConvertOptions | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> ConvertResult:
    """Convert `inputs` through `mappings` into `out_dir`, committed as one output set: built apart, swapped in
    whole once every file is built and every database committed, the manifest last (docs/run-integrity.md).

    The output folder and each input (its framing and encoding against its source layout, readers/preflight.py)
    are checked before the first batch: exit 2 in one line when one cannot be right; an empty input is one
    unless `options.allow_empty`. `executor` (not started) runs the batches instead of the one the options
    name (pipeline/executors)."""
    options = options or ConvertOptions()
    jobs = match_inputs(mappings, inputs)
    out_folder(out_dir, mode=dir_mode(options.output_mode))
    jobs = preflight_jobs(jobs, options.allow_empty)
    with private_umask(), locked(out_dir):
        outset = OutputSet(out_dir, "", options.overwrite, options.output_mode)
        outset.open()
        try:
            return _convert(
                mappings, jobs, outset, options, progress, executor or executor_for(options, jobs)
            )
        except BaseException:
            outset.discard()
            raise


def _convert(
    mappings: list[Mapping],
    jobs: list[Job],
    outset: OutputSet,
    options: ConvertOptions,
    progress: Progress | None,
    executor: Executor,
) -> ConvertResult:
    manifest = build_manifest(mappings, jobs, [""] * len(jobs), options)
    outset.precheck(manifest.definitions, manifest.options, [vars(i) for i in manifest.inputs])
    session = WriterSession(options.writers, options.writer_options, outset.next)  # bad options fail here
    t0 = time.perf_counter()
    hasher = InputHasher([j.path for j in jobs])  # overlaps the read phase; the run identity waits for it
    gaiji = options.gaiji(mappings)
    try:
        with kernels.using(options.kernels), staging(outset.stage) as stage:
            # The streaming writers build their files in the new set (the tool's work folder) while the
            # batches come in; nothing in the output folder changes before `claim` below.
            session.begin(stage.targets(jobs))
            # In process, the rows of a target the Parquet writer can give back are not staged.
            stage.in_memory = session.rebuildable(stage.targets(jobs))
            streamed = _Timed(session.stream)
            stage.on_rows = streamed
            keys = stage.collect_keys(jobs, options.crossfile_memory_limit, options.memory_limit)
            reading = ReadPhase(jobs, manifest.inputs, stage, options, gaiji, progress or Silent())
            reading.run(executor)
            manifest.executor = executor.describe()
            fault("staged")
            manifest.timings["read_map_validate_s"] = _since(t0)
            manifest.timings["write_streamed_s"] = round(streamed.seconds, 3)
            staged = stage.staged_files(jobs)
            t1 = time.perf_counter()
            phase(progress, "cross-file checks")
            rejected, manifest.unchecked = cross_rejects(stage)
            manifest.timings["crossfile_s"] = _since(t1)
            manifest.timings["crossfile_streamed_s"] = round(keys.seconds, 3)  # in a thread, while reading
            t1 = time.perf_counter()
            phase(progress, "writing outputs")
            outset.run_id = hasher.set_run_id(manifest)
            outset.claim()  # another run's folder: refused before anything in it changes
            manifest.load_ids = session.open(outset.run_id)
            # only what the streaming writers do not have yet
            written = session.write(staged, rejected, stage.in_memory, stage.root)
            stage.drop_rows()  # every row is with the writers now
            outputs = session.commit_files()  # final names, inside the new set
            manifest.timings["write_s"] = _since(t1)
            rejects = stage.write_rejects(outset.next)
            occurrences = stage.gaiji()
        reports = write_reports(outset.next, occurrences, rejects)
        names = outset.names(
            [o.path for o in outputs if o.sha256]
            + [str(outset.next / n) for n in ("rejects.parquet", "rejects.csv", *reports)]
        )
        outset.check_names(names)
        fault("files")
        outputs += session.commit_databases()
    except BaseException:
        hasher.stop()
        session.abort()
        raise
    unmapped = unmapped_codes(rejects)
    rejects = rejects.drop(DETAIL)  # as written to rejects.parquet
    manifest.text = manifest_section(reports, occurrences, gaiji) | {"dates": dates_section(reading.counts)}
    manifest.validation = validation_section(jobs, gaiji)
    finish_manifest(manifest, outset, outputs, written, rejects, reports, t0, names)
    outset.swap(names, manifest.to_json(outset.out).encode("utf-8"))  # paths relative to the folder
    outset.finish()
    return ConvertResult(manifest, outset.out, rejects, unmapped)


class _Timed:
    """`fn`, adding up the wall time spent in it."""

    def __init__(self, fn: Callable[[str, int, Path | pl.DataFrame], None]) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, target: str, job: int, part: Path | pl.DataFrame) -> None:
        t = time.perf_counter()
        try:
            self.fn(target, job, part)
        finally:
            self.seconds += time.perf_counter() - t


def _since(t: float) -> float:
    return round(time.perf_counter() - t, 3)


__all__ = [
    "OFF",
    "RAW",
    "REC",
    "ConvertOptions",
    "ConvertResult",
    "Progress",
    "convert",
    "plan_run_id",
    "run_id",
]
