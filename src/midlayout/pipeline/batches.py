"""One batch of one input, end to end: read → map → validate → stage, in this process or a worker.

An executor (pipeline/executors: this process, a local pool of threads or of processes, or a Dask cluster)
runs the batches; the heavy work (polars, pyarrow, the numba kernels) releases the GIL. A worker receives
only a small task (job number, planned piece, staged lookup tables) and writes its staged parts itself,
each atomically (a temp file and a rename, so a worker killed mid-piece never leaves half a part); the
main process receives paths and counts, and consumes them in batch order, so the output is the same
whatever the number of workers or the executor.

When the batches run in the main process (the local executor with one worker, or its thread pool), the
valid rows of a job the runner is told to keep (`in_memory`) are not staged: its `Done` carries the frame
itself, and the batch's key columns (what the cross-file rules read, compacted, `key_columns`; the input
file's path as a category, not once per row) beside it. Rejects and 外字 occurrences are staged either way
(they are few).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from midlayout import kernels, sql
from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Lookup
from midlayout.mapping import proof
from midlayout.mapping.compile import CompiledFile, compile_file, count_values, lookup_key
from midlayout.mapping.pushdown import reader_trims
from midlayout.pipeline.faults import piece_fault
from midlayout.pipeline.inputs import Job
from midlayout.pipeline.plan import target_name
from midlayout.pipeline.readmap import read_mapped
from midlayout.readers.gaiji import GaijiSpec, spec_for
from midlayout.rejects import FILE, staged
from midlayout.validate.controls import allowances
from midlayout.validate.registry import Validator, get_validator

if TYPE_CHECKING:
    from midlayout.pipeline.executors import Executor, Handle

# Staged parts are read back once and deleted: cheap compression beats small files. Uncompressed measured
# 0.54 against 0.67 CPU-s per 1M staged rows to write (BENCHMARKS.md) but twice the bytes, which a Dask run
# moves over the shared filesystem; lz4 is kept.
STAGE_COMPRESSION: Final = "lz4"
# Worker processes give freed memory back at once: polars' allocator (jemalloc) otherwise keeps it for
# seconds, and a worker's idle RSS adds to the process tree while the main process stages a lookup table.
# jemalloc reads the variable at its first allocation, when a process imports polars (setting it after the
# import changes nothing), so it is set for spawned workers before they start. The thread pool's one process
# (the default pool) keeps jemalloc's own decay: decay 0 there measured +3 CPU-s of page faults per 1.45M
# records for 44 MiB less peak RSS (BENCHMARKS.md, "Threads by default").
WORKER_ENV: Final = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
AUTO_PARALLEL_BYTES = 64 << 20  # below this, worker start-up costs more than it saves
LOOKUP_IN_MEMORY_ROWS = 500_000  # larger tables stay on disk, filtered per batch: memory follows the batch


def _file_stem(target: str) -> str:
    return target.replace("/", "_").replace(":", "__")


def part_path(root: Path, kind: str, job: int, seq: int) -> Path:
    """Staged part names sort in run order: by job number, then batch number."""
    return root / f"{kind}-{job:04d}-{seq:06d}.parquet"


def write_part(frame: pl.DataFrame, path: Path) -> None:
    """Stage `frame` at `path` whole or not at all: a temp file beside it, renamed over it. A piece run
    again (a retry after its worker died) rewrites the same path; nobody ever reads half a part."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")  # unique across hosts
    try:
        frame.write_parquet(temp, compression=STAGE_COMPRESSION)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Task:
    """Batch `seq` of job `job`, with the staged lookup tables its mapping joins."""

    job: int
    seq: int
    piece: object
    tables: tuple[tuple[Lookup, str], ...] = ()


@dataclass
class Done:
    """What a batch produced: counts, staged part paths (or, for a job kept in memory, the valid rows and
    their key columns), and lookup columns captured for later jobs."""

    job: int
    seq: int
    records_read: int
    bytes_read: int
    rows: Path | pl.DataFrame
    rejects: Path | None
    gaiji: Path | None
    captured: dict[Lookup, Path] = field(default_factory=dict)  # staged (trimmed key, value) parts
    undecodable: int = 0  # records whose bytes are not valid in the declared encoding (the decode-rate stop)
    counts: dict[str, int] = field(default_factory=dict)  # values accepted with a loss (partial: null)
    keys: pl.DataFrame | None = None  # rows kept in memory: their provenance and rule columns, compacted


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` in buffers of its own: a column of string views taken from a batch may point into the one
    data buffer the decoder wrote every field of the batch into, which a kept column would hold on to."""
    return pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))  # type: ignore[return-value]


class Cancelled(Exception):
    """The run stopped (interrupted, or failed elsewhere) while this batch ran: it stops at its next step."""


def undecodable_records(rejects: pl.DataFrame) -> int:
    """Records of a batch rejected because their bytes do not decode (not for what they hold)."""
    bad = rejects.filter(pl.col("rule") == "invalid_bytes")
    return bad.select("file", "record").n_unique() if bad.height else 0


class BatchRunner:
    """Per process: the run's jobs, and what is compiled or loaded once per job or table."""

    def __init__(
        self,
        jobs: list[Job],
        gaiji: dict[str, GaijiOptions],
        root: Path,
        captures: dict[int, list[Lookup]],
        validator: str = "fused",
        kernels_name: str = kernels.FAST,
        prove: bool | None = None,
        proven: dict[int, dict[tuple[str, str], str]] | None = None,
        in_memory: dict[int, tuple[str, ...]] | None = None,
        fault: str | None = None,
    ) -> None:
        self.jobs, self.gaiji, self.root, self.captures = jobs, gaiji, root, captures
        # Jobs whose valid rows stay in memory (batches run in this process), with the columns of them the
        # cross-file rules read; the rows of every other job are staged.
        self.in_memory = dict(in_memory or {})
        self.validator, self.kernels_name = validator, kernels_name
        # Rules the source proves are not checked (mapping/proof.py); MIDLAYOUT_PROVE=0 checks them all.
        self.prove = proof.enabled() if prove is None else prove
        self.fault = fault  # MIDLAYOUT_FAULT as the executor passed it on (the dask executor only)
        self._validate: Validator = get_validator(validator)
        self._compiled: dict[int, CompiledFile] = {}
        self._proven: dict[int, dict[tuple[str, str], str]] = dict(proven or {})
        self._specs: dict[int, GaijiSpec] = {}
        self._tables: dict[str, pl.DataFrame] = {}
        # Set by a thread pool's executor when the run stops: a thread cannot be killed, so `run` looks at
        # it between the steps of a batch (a worker process is killed, or dies with the main process).
        self.cancelled: threading.Event | None = None

    def checkpoint(self) -> None:
        """Raise Cancelled when the run has stopped (between the steps of a batch)."""
        if self.cancelled is not None and self.cancelled.is_set():
            raise Cancelled("run stopped")

    @property
    def init_args(self) -> tuple[object, ...]:
        """What a worker needs to build its own runner: `BatchRunner(*init_args)`; the proven rules are
        computed here, once, in the main process; the fault setting comes last."""
        return (
            self.jobs,
            self.gaiji,
            self.root,
            self.captures,
            self.validator,
            self.kernels_name,
            self.prove,
            self.all_proven(),  # computed once here, not by every worker
            self.in_memory,
            self.fault,
        )

    def _job(self, i: int) -> tuple[Job, CompiledFile, GaijiSpec]:
        job = self.jobs[i]
        if i not in self._compiled:
            spec = spec_for(job.source, self.gaiji[job.mapping.id])
            trims = _reader_trims(job, spec, self.captures.get(i, ()), self.kernels_name)
            self._specs[i] = replace(spec, reader_trims=tuple(sorted(trims.items())))
            self._compiled[i] = compile_file(job.mapping, job.rule, trims)
        return job, self._compiled[i], self._specs[i]

    def proven(self, i: int) -> dict[tuple[str, str], str]:
        """(item, rule) pairs job `i`'s source proves (mapping/proof.py), computed once per run: the main
        process hands them to the workers."""
        if i not in self._proven:
            job = self.jobs[i]
            spec = spec_for(job.source, self.gaiji[job.mapping.id])
            self._proven[i] = proof.proven_rules(job_proofs(job, spec)) if self.prove else {}
        return self._proven[i]

    def all_proven(self) -> dict[int, dict[tuple[str, str], str]]:
        return {i: self.proven(i) for i in range(len(self.jobs))}

    def _table(self, lk: Lookup, path: str, rows: pl.DataFrame) -> pl.DataFrame:
        """A small table is loaded once; from a large one, only the rows this batch's keys can match."""
        if path in self._tables:
            return self._tables[path]
        if pl.scan_parquet(path).select(pl.len()).collect().item() <= LOOKUP_IN_MEMORY_ROWS:
            self._tables[path] = pl.read_parquet(path)
            return self._tables[path]
        keys = rows.select(lookup_key(lk.match)).to_series().drop_nulls().unique()
        return pl.scan_parquet(path).filter(pl.col(lk.key).is_in(keys.implode())).collect(engine="streaming")

    def _capture(self, task: Task, rows: pl.DataFrame) -> dict[Lookup, Path]:
        """The key (trimmed, as tables hold it) and value columns later jobs look up, staged to disk."""
        out = {}
        for k, lk in enumerate(self.captures.get(task.job, ())):
            frame = rows.select(lookup_key(lk.key), pl.col(lk.value).cast(pl.String))
            out[lk] = part_path(self.root, f"capture{k}", task.job, task.seq)
            write_part(frame, out[lk])
        return out

    def run(self, task: Task) -> Done:
        """Read, map, validate and stage one batch (stopping between steps once the run is cancelled)."""
        self.checkpoint()
        job, compiled, spec = self._job(task.job)

        def tables(source_rows: pl.DataFrame) -> dict[Lookup, pl.DataFrame]:
            self.checkpoint()  # called between read and map
            return {lk: self._table(lk, path, source_rows) for lk, path in task.tables}

        mapped = next(read_mapped(job.source, job.path, spec, compiled, tables, pieces=[task.piece]))
        batch = mapped.read
        self.checkpoint()
        captured = self._capture(task, batch.rows)
        valid, val_rejects = self._validate(
            job.mapping.target,
            compiled.target,
            mapped.rows,
            allow=allowances(compiled.rule),
            proven=self.proven(task.job),
        )
        self.checkpoint()
        frame, keys = staged(valid), None
        if task.job in self.in_memory:  # in this process: the rows as they are, the key columns compacted
            rows: Path | pl.DataFrame = frame
            keys = compact(frame.select(self.in_memory[task.job])).with_columns(
                pl.col(FILE).cast(pl.Categorical)
            )
        else:
            rows = part_path(self.root, _file_stem(target_name(job)), task.job, task.seq)
            write_part(frame, rows)
        piece_fault(self.fault, task.job, task.seq, self.root)  # test hook (pipeline/faults.py)
        rejects = pl.concat([mapped.all_rejects, val_rejects])
        return Done(
            task.job,
            task.seq,
            batch.records_read,
            batch.bytes_read,
            rows,
            self._stage(rejects, "rejects", task),
            self._stage(batch.gaiji, "gaiji", task),
            captured,
            undecodable_records(batch.rejects),
            count_values(compiled, batch.rows, valid, tables(batch.rows)) if compiled.counters else {},
            keys,
        )

    def _stage(self, frame: pl.DataFrame, kind: str, task: Task) -> Path | None:
        if not frame.height:
            return None
        path = part_path(self.root, kind, task.job, task.seq)
        write_part(frame, path)
        return path


def job_proofs(job: Job, spec: GaijiSpec) -> tuple[proof.Proven, ...]:
    """The rules of `job`'s target items its source proves, as this run reads it (`spec`: its 外字 table)."""
    return proof.prove_file(job.mapping, job.rule, job.source, gaiji_replaces=bool(spec.replacements))


def _reader_trims(
    job: Job, spec: GaijiSpec, captured: list[Lookup] | tuple[()], kernels_name: str
) -> dict[str, int]:
    """Trims the fused fixed-width decoder applies for this job (none with the reference decoder or
    kernels other than `fast`)."""
    from midlayout.readers.native import native_codec

    if job.source.format != "fixed" or kernels_name != kernels.FAST or not native_codec(spec.codec):
        return {}
    return reader_trims(job.rule, job.source, captured)


def auto_workers(jobs: list[Job]) -> int:
    """One worker per CPU when the inputs are large enough to repay the start-up; else in-process."""
    total = sum(j.path.stat().st_size for j in jobs)
    return (os.cpu_count() or 1) if total >= AUTO_PARALLEL_BYTES else 1


class Pipeline:
    """Runs tasks through an executor, handling their results in submission order.

    At most `executor.in_flight` tasks are pending (two per worker; none for the in-process executor), so
    memory follows the batch size, not the file. Which executor runs them is not this class's business.
    """

    def __init__(self, executor: Executor, on_done: Callable[[Done], None]) -> None:
        self.executor, self.on_done = executor, on_done
        self.pending: deque[Handle] = deque()
        self.pending_jobs: deque[int] = deque()  # the job of each pending task

    def submit(self, task: Task) -> None:
        self.pending.append(self.executor.submit(task))
        self.pending_jobs.append(task.job)
        while len(self.pending) > self.executor.in_flight:
            self._next()

    def _next(self) -> None:
        self.pending_jobs.popleft()
        self.on_done(self.pending.popleft().result())

    def drain(self) -> None:
        """Wait for every submitted task, handling results in submission order."""
        while self.pending:
            self._next()

    def drain_jobs(self, jobs: set[int]) -> None:
        """Wait until no task of `jobs` is pending (results still in submission order); tasks of other
        jobs submitted after them keep the workers busy meanwhile."""
        while any(j in jobs for j in self.pending_jobs):
            self._next()

    def close(self) -> None:
        """Cancel what is still pending and stop the executor."""
        for handle in self.pending:
            handle.cancel()
        self.pending.clear()
        self.pending_jobs.clear()
        self.executor.close()


def stage_lookup_table(parts: list[Path], lk: Lookup, path: Path, spill: Path, memory_limit: str) -> None:
    """Write the lookup table of `lk` from its captured parts: ambiguous keys are dropped (then reported
    as missing), as `mapping.compile.build_lookup_table` does. Up to LOOKUP_IN_MEMORY_ROWS rows in
    memory with polars; larger tables out of core in DuckDB."""
    if not parts:
        pl.DataFrame(schema={lk.key: pl.String, lk.value: pl.String}).write_parquet(path)
        return
    if pl.scan_parquet(parts).select(pl.len()).collect().item() <= LOOKUP_IN_MEMORY_ROWS:
        # Small enough to hold: in memory, without DuckDB's start-up and spill machinery.
        table = pl.read_parquet(parts)
        table.filter(pl.len().over(lk.key) == 1).write_parquet(path, compression=STAGE_COMPRESSION)
        return
    from midlayout.duckcon import open_duckdb  # DuckDB only for a lookup table too large to hold

    con = open_duckdb()
    try:
        con.execute(
            f"SET memory_limit = {sql.literal(memory_limit)}; SET temp_directory = {sql.literal(spill)}; "
            "SET preserve_insertion_order = false"
        )
        con.execute(
            f"COPY (SELECT * FROM read_parquet({sql.literal_list(parts)}) "
            f"QUALIFY count(*) OVER (PARTITION BY {sql.ident(lk.key)}) = 1) "
            f"TO {sql.literal(path)} (FORMAT parquet)"
        )
    finally:
        con.close()
