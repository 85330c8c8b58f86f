"""`convert`: stream every input through read → map → validate, stage, check across files, then write.

The steps live in their own modules: `options` (what a run takes, checked), `plan` (staging keys,
lookups, execution order), `readphase` and `batches` (the batches, here or in worker processes),
`staging` (staged parts, cross-file rejects, the rejects files), `session` (the writers as one unit)
and `run_manifest` (the manifest and load id). This module only puts them in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from midlayout import kernels
from midlayout.layout.mapping import Mapping
from midlayout.pipeline.batches import auto_workers
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.manifest import Manifest
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.readphase import Progress, ReadPhase, Silent
from midlayout.pipeline.run_manifest import (
    InputHasher,
    build_manifest,
    finish_manifest,
    load_id,
    plan_load_id,
)
from midlayout.pipeline.session import WriterSession
from midlayout.pipeline.staging import cross_rejects, staging
from midlayout.pipeline.textreport import manifest_section, write_reports
from midlayout.rejects import DETAIL, OFF, RAW, REC, REJECT_SCHEMA


@dataclass
class ConvertResult:
    """What a run produced; `manifest` is also on disk as manifest.json."""

    manifest: Manifest
    out_dir: Path
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_SCHEMA))

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
) -> ConvertResult:
    """Convert `inputs` through `mappings` into `out_dir`; the manifest is written last, only on success."""
    options = options or ConvertOptions()
    jobs = match_inputs(mappings, inputs)
    _clear_out(out_dir)
    session = WriterSession(options.writers, options.writer_options, out_dir)  # bad options fail here
    t0 = time.perf_counter()
    hasher = InputHasher([j.path for j in jobs])  # overlaps the read phase; the load id waits for it
    manifest = build_manifest(mappings, jobs, [""] * len(jobs))
    manifest.tool["validator"] = options.validator
    gaiji = options.gaiji(mappings)
    try:
        with kernels.using(options.kernels), staging(out_dir) as stage:
            ReadPhase(jobs, manifest.inputs, stage, options, gaiji, progress or Silent()).run(
                _workers(options, jobs)
            )
            manifest.timings["read_map_validate_s"] = _since(t0)
            staged = stage.staged_files(jobs)
            t1 = time.perf_counter()
            rejected, manifest.unchecked = cross_rejects(stage, staged, options.crossfile_memory_limit)
            manifest.timings["crossfile_s"] = _since(t1)
            t1 = time.perf_counter()
            session.open(hasher.set_load_id(manifest))
            written = session.write(staged, rejected)
            outputs = session.commit()
            manifest.timings["write_s"] = _since(t1)
            rejects = stage.write_rejects(out_dir)
            occurrences = stage.gaiji()
    except BaseException:
        hasher.stop()
        session.abort()
        raise
    reports = write_reports(out_dir, occurrences, rejects)
    rejects = rejects.drop(DETAIL)  # as written to rejects.parquet
    manifest.text = manifest_section(reports, occurrences, gaiji)
    finish_manifest(manifest, out_dir, outputs, written, rejects, reports, t0)
    return ConvertResult(manifest, out_dir, rejects)


def _clear_out(out_dir: Path) -> None:
    """The folder must not look complete until the run finishes; temp files of an interrupted run go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)
    for stale in out_dir.rglob(".*.tmp*"):  # never a final name
        stale.unlink()


def _workers(options: ConvertOptions, jobs: list[Job]) -> int:
    """As asked, else one per CPU for large inputs; kernels other than `fast` live in this process only."""
    if options.workers:
        return options.workers
    return auto_workers(jobs) if options.kernels == kernels.FAST else 1


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
    "load_id",
    "plan_load_id",
]
