"""The read phase of a run: every job's batches through read → map → validate → stage, in execution order.

Lookup sources run first and their key and value columns are captured on their own pass; a job that
looks up waits for them, then gets each table staged once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from midlayout import kernels
from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Lookup
from midlayout.pipeline.batches import (
    STAGE_COMPRESSION,
    BatchRunner,
    Done,
    Pipeline,
    Task,
    stage_lookup_table,
)
from midlayout.pipeline.executors import Executor
from midlayout.pipeline.faults import fault
from midlayout.pipeline.inputs import Job
from midlayout.pipeline.manifest import InputRecord
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.plan import (
    execution_order,
    lookup_source,
    lookups_of,
    read_lookup,
    target_name,
)
from midlayout.pipeline.staging import Stage
from midlayout.readers import plan_batches
from midlayout.readers.preflight import DecodeRate


class Progress(Protocol):
    """What the pipeline reports while it works (the CLI draws it on stderr)."""

    def start(self, task: str, total: int) -> None: ...
    def advance(self, task: str, amount: int) -> None: ...


def phase(progress: Progress | None, name: str) -> None:
    """Report a phase without a byte count (cross-file checks, writing), when the display can show one."""
    show = getattr(progress, "phase", None)
    if show is not None:
        show(name)


class Silent:
    """Progress that reports nothing."""

    def start(self, task: str, total: int) -> None:
        pass

    def advance(self, task: str, amount: int) -> None:
        pass


class ReadPhase:
    """Feeds every job's batches to the pipeline and stages what comes back, counting records per input."""

    def __init__(
        self,
        jobs: list[Job],
        records: list[InputRecord],
        stage: Stage,
        options: ConvertOptions,
        gaiji: dict[str, GaijiOptions],
        progress: Progress,
    ) -> None:
        self.jobs, self.records, self.stage, self.options = jobs, records, stage, options
        self.progress, self.gaiji = progress, gaiji
        self.captures = kernels.get(options.kernels).lookup_captures(jobs)
        self.captured: dict[Lookup, list[Path]] = {}
        self.submitted: set[int] = set()
        self.done_jobs: set[int] = set()  # every batch handled
        self.tables: dict[Lookup, str] = {}
        self.counts: dict[str, int] = {}  # "what:mapping:file.item" → values accepted with a loss
        self.decode_rate = DecodeRate(options.max_reject_rate)

    def on_done(self, done: Done) -> None:
        job = self.jobs[done.job]
        record = self.records[done.job]
        record.records_read += done.records_read
        for key, n in done.counts.items():
            what, item = key.split(":", 1)
            name = f"{what}:{job.mapping.id}:{job.rule.target}.{item}"
            self.counts[name] = self.counts.get(name, 0) + n
        self.decode_rate.add(job.source, job.path, done.records_read, done.undecodable, done.rejects)
        fault("batch")
        self.stage.add(target_name(job), done)
        for lk, part in done.captured.items():
            self.captured.setdefault(lk, []).append(part)
        self.progress.advance(str(job.path), done.bytes_read)

    def _tables_for(self, i: int, pipeline: Pipeline) -> tuple[tuple[Lookup, str], ...]:
        needed = sorted(lookups_of(self.jobs[i]), key=repr)
        if needed:  # the sources' batches must all be in; later jobs keep the workers busy meanwhile
            sources = {lookup_source(self.jobs, self.jobs[i], lk) for lk in needed} & self.submitted
            pipeline.drain_jobs(sources)
            self.done_jobs |= sources
        out = []
        for lk in needed:
            if lk not in self.tables:
                src = lookup_source(self.jobs, self.jobs[i], lk)
                path = self.stage.root / f"lookup-{len(self.tables):03d}.parquet"
                if src in self.done_jobs and lk in self.captures.get(src, ()):
                    parts = sorted(self.captured.get(lk, []))
                    spill = self.stage.root / "spill"
                    stage_lookup_table(parts, lk, path, spill, self.options.lookup_memory_limit)
                else:  # its source has not run yet (lookups in a chain): read the source for it
                    table = read_lookup(self.jobs, self.jobs[i], lk, self.options.batch_size, self.gaiji)
                    table.write_parquet(path, compression=STAGE_COMPRESSION)
                self.tables[lk] = str(path)
            out.append((lk, self.tables[lk]))
        return tuple(out)

    def run(self, executor: Executor) -> None:
        """Every batch of every job, staged, run by `executor` (closed at the end); then an empty typed frame
        for each target that got no row."""
        opts = self.options
        order = execution_order(self.jobs, self.captures)
        if not executor.in_process:  # workers elsewhere stage their rows; the main process reads them
            self.stage.in_memory = set()
        runner = BatchRunner(
            self.jobs,
            self.gaiji,
            self.stage.root,
            self.captures,
            opts.validator,
            opts.kernels,
            in_memory=self.stage.keep_in_memory(self.jobs, order),
        )
        pipeline = Pipeline(executor, self.on_done)
        try:
            executor.start(runner)
            for i in order:
                job = self.jobs[i]
                tables = self._tables_for(i, pipeline)
                self.progress.start(str(job.path), self.records[i].bytes)
                for seq, piece in enumerate(plan_batches(job.source, job.path, opts.batch_size)):
                    pipeline.submit(Task(i, seq, piece, tables))
                self.submitted.add(i)
            pipeline.drain()
        finally:
            pipeline.close()
        self.stage.sort()
        self.stage.add_empty_targets(self.jobs)
