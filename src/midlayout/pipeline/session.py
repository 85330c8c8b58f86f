"""The writers of a run as one unit: built and checked once, then start → write → prepare → commit, or abort.

Writers that stream (`Writer.STREAMING`: every built-in file writer, DuckDB included) are built before the
read phase and get each batch of valid rows as it arrives, in batch order (`stream`: a staged part, or the
frame itself when the batches run in this process), so their work overlaps the workers'; once the
cross-file rules have run, only a target they rejected rows from is written again (`write`), from its
staged parts, or, when its rows were not staged (`rebuildable`), from the Parquet file the Parquet writer
streamed, batch by batch, with the row ids the stage kept. A target without a cross-file reject is then
already final. The other writers (PostgreSQL, which needs its load id when it starts; plugins that do not
declare `STREAMING`) get every target once, after the cross-file rules, from its staged parts, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.pipeline.faults import fault
from midlayout.pipeline.runid import writer_load_id
from midlayout.rejects import FILE, REC, STAGED_PROVENANCE
from midlayout.validate.crossfile import ROW_ID, Part, StagedFile, scan_part
from midlayout.writers import Output, Writer, get_writer
from midlayout.writers.parquet import ParquetWriter

NO_LOAD_ID = "0" * 64  # the writers' load id while only their options are checked (or not yet known)
_COUNTS = {FILE: pl.String, "n": pl.UInt32}
_NO_ROWS = pl.DataFrame(schema={FILE: pl.String, REC: pl.Int64})
LANE_DEPTH = 2  # batches queued per writer before the caller waits: memory follows the batch size


class _Lanes:
    """One thread per writer, so that the writers of a run encode in parallel (polars, Arrow, DuckDB and
    zstd release the GIL) and beside the caller. Each writer's calls run in the order given, one at a time;
    an error is raised to the caller at its next `call` or at `drain`."""

    def __init__(self) -> None:
        self.pools: dict[int, ThreadPoolExecutor] = {}
        self.pending: dict[int, deque[Future[None]]] = {}

    def call(self, w: Writer, fn: Callable[[], None]) -> None:
        key = id(w)
        if key not in self.pools:
            self.pools[key] = ThreadPoolExecutor(1, thread_name_prefix=f"writer-{w.name}")
            self.pending[key] = deque()
        queue = self.pending[key]
        queue.append(self.pools[key].submit(fn))
        while len(queue) > LANE_DEPTH:
            queue.popleft().result()

    def drain(self) -> None:
        """Wait for every call; raise the first error."""
        for queue in self.pending.values():
            while queue:
                queue.popleft().result()

    def close(self) -> None:
        """Wait for whatever runs (errors dropped: the caller is failing already), then stop the threads."""
        for pool in self.pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self.pools, self.pending = {}, {}


class WriterSession:
    """Every writer of a run. Nothing becomes visible before `commit`; `abort` undoes whatever was begun."""

    def __init__(self, names: tuple[str, ...], options: dict[str, dict[str, Any]], out_dir: Path) -> None:
        self.names, self.options, self.out_dir = names, options, out_dir
        self.classes = [get_writer(n) for n in names]
        self.writers: list[Writer] = []
        self.streaming: list[Writer] = []  # built before the read phase, fed as batches arrive
        self.targets: dict[str, tuple[Layout, FileDef]] = {}
        self.counts: dict[str, list[pl.DataFrame]] = {}  # per target: rows written per input file
        self.last_job: dict[str, int] = {}
        self.out_of_order: set[str] = set()  # targets whose batches did not arrive in output order
        self.rewritten: list[str] = []  # targets the streaming writers got again after the cross-file rules
        self.lanes = _Lanes()
        # Built once now, so that a bad option fails before any work. A writer may open a file or a
        # connection when built (the DuckDB writer connects in its constructor), so each is aborted at once;
        # `open` builds them again with the run's load id, which needs the inputs' sha256s.
        self.open(NO_LOAD_ID)
        self.abort()

    def _build(self, name: str, cls: type[Writer], run_id: str) -> Writer:
        opts = self.options.get(name, {})
        return cls(self.out_dir, opts, writer_load_id(run_id, name, opts, cls.CONNECTION_OPTIONS))

    def begin(self, targets: dict[str, tuple[Layout, FileDef]]) -> None:
        """Before the read phase: build the streaming writers (their load id is set by `open`) and start
        every target in them, in output order."""
        self.targets = dict(targets)
        try:
            for name, cls in zip(self.names, self.classes, strict=True):
                if cls.STREAMING:
                    self.streaming.append(self._build(name, cls, NO_LOAD_ID))
            for layout, file in self.targets.values():
                for w in self.streaming:
                    self.lanes.call(w, _start(w, layout, file))
        except BaseException:
            self.abort()
            raise

    def rebuildable(self, targets: dict[str, tuple[Layout, FileDef]]) -> set[str]:
        """The targets whose rows need not be staged: every writer streams, and the Parquet writer is one of
        them and writes the target as one file, out of which `write` can rebuild it (by `begin`, before the
        read phase)."""
        if not self.streaming or len(self.streaming) != len(self.classes):
            return set()
        parquet = next((w for w in self.streaming if isinstance(w, ParquetWriter)), None)
        if parquet is None:
            return set()
        return {name for name, (_, file) in targets.items() if parquet.single_file(file)}

    def stream(self, target: str, job: int, part: Part) -> None:
        """One batch of valid rows of `target` (a staged part, or the frame), from job `job`: to every
        streaming writer at once, if it comes in output order (parts of one job arrive in batch order; jobs
        of one target must arrive in job order, else the target is written from its sorted parts after the
        read phase)."""
        if not self.streaming or target in self.out_of_order:
            return
        if job < self.last_job.get(target, job):
            self.out_of_order.add(target)
            return
        self.last_job[target] = job
        layout, file = self.targets[target]
        good = _surviving(part, _NO_ROWS)  # as `write` reads a part (the same Arrow chunks: the same bytes)
        self.counts.setdefault(target, []).append(good.group_by(FILE).agg(pl.len().alias("n")))
        rows = good.drop(list(STAGED_PROVENANCE))
        for w in self.streaming:
            self.lanes.call(w, _write(w, layout, file, rows))

    def open(self, run_id: str) -> dict[str, str]:
        """Build every writer for the run `run_id`, each with its load id (the run identity and its content
        options; pipeline/runid.py): the streaming ones already exist and get their load id now. If one
        fails, those already built are aborted. Returns the load ids, in the order the writers were named."""
        streamed = iter(self.streaming)
        self.writers = []
        try:
            for name, cls in zip(self.names, self.classes, strict=True):
                if self.streaming and cls.STREAMING:
                    w = next(streamed)
                    w.load_id = writer_load_id(
                        run_id, name, self.options.get(name, {}), cls.CONNECTION_OPTIONS
                    )
                else:
                    w = self._build(name, cls, run_id)
                self.writers.append(w)
        except BaseException:
            self.abort()
            raise
        return {w.name: w.load_id for w in self.writers}

    def write(
        self,
        staged: dict[str, StagedFile],
        rejected: dict[str, pl.DataFrame],
        unstaged: set[str] | frozenset[str] = frozenset(),
        work: Path | None = None,
    ) -> pl.DataFrame:
        """After the cross-file rules: stream each target's surviving rows to the writers that do not have
        them yet (every target to a writer that does not stream; to the streaming writers, only a target
        with cross-file rejects or whose batches came out of order, started anew). A target in `unstaged`
        (from `rebuildable`: its parts hold only row ids and key columns) is read back from the Parquet
        writer's file, moved to the folder `work` meanwhile. Return written counts per input file."""
        later = [w for w in self.writers if w not in self.streaming]
        self.rewritten = []
        for name, sf in staged.items():
            again = bool(self.streaming) and (name in self.out_of_order or rejected[name].height > 0)
            writers = later + (self.streaming if again else [])
            if again:
                self.rewritten.append(name)
            elif self.streaming and not later:
                continue  # final already, and counted as it streamed
            batches: Iterator[Part] = iter(sf.parts)
            if name in unstaged:
                assert not later and name not in self.out_of_order and work is not None
                batches = self._written(name, sf, work)
            for w in writers:
                self.lanes.call(w, _start(w, sf.layout, sf.file))
            drop = rejected[name].select(ROW_ID)
            self.counts[name] = []
            for part in batches:  # a few parts in memory at a time; the rejected ids are few
                good = _surviving(part, drop)
                self.counts[name].append(good.group_by(FILE).agg(pl.len().alias("n")))
                rows = good.drop(list(STAGED_PROVENANCE))
                for w in writers:
                    self.lanes.call(w, _write(w, sf.layout, sf.file, rows))
        self.lanes.drain()
        counts = [c for name in staged for c in self.counts.get(name, [])]
        return (
            pl.concat(counts).group_by(FILE).agg(pl.col("n").sum())
            if counts
            else pl.DataFrame(schema=_COUNTS)
        )

    def _written(self, name: str, sf: StagedFile, work: Path) -> Iterator[pl.DataFrame]:
        """The rows of `name` as streamed, batch by batch: the Parquet writer's file so far (handed over to
        `work`, then removed), each batch with its row ids from its key part (rows arrived in batch order)."""
        self.lanes.drain()  # everything streamed is in the file
        parquet = next(w for w in self.streaming if isinstance(w, ParquetWriter))
        src = work / f"rebuild-{len(self.rewritten):04d}.parquet"
        parquet.hand_over(sf.layout, sf.file, src)
        return _batches_of(src, sf.parts)

    def commit_files(self) -> list[Output]:
        """Prepare every file writer (everything that can fail, in all of them: side by side, one thread
        each, as they close and hash their files), then commit each: its files get their final names inside
        the new output set, which is not yet in the output folder."""
        files = [w for w in self.writers if not w.DATABASE]
        for w in files:
            self.lanes.call(w, w.prepare)
        self.lanes.drain()
        self.lanes.close()
        outputs: list[Output] = []
        for w in files:
            outputs += w.commit()
            fault(f"commit:{w.name}")
        return outputs

    def commit_databases(self) -> list[Output]:
        """Once every file is built: prepare every database (all that can fail), then commit each."""
        dbs = [w for w in self.writers if w.DATABASE]
        for w in dbs:
            w.prepare()
            fault(f"prepare:{w.name}")
        outputs: list[Output] = []
        for w in dbs:
            outputs += w.commit()
            fault(f"commit:{w.name}")
        return outputs

    def abort(self) -> None:
        self.lanes.close()  # nothing of a writer runs while it is aborted
        for w in [*self.writers, *(w for w in self.streaming if w not in self.writers)]:
            w.abort()
        self.writers = []
        self.streaming = []


def _start(w: Writer, layout: Layout, file: FileDef) -> Callable[[], None]:
    return lambda: w.start(layout, file)


def _write(w: Writer, layout: Layout, file: FileDef, rows: pl.DataFrame) -> Callable[[], None]:
    return lambda: w.write(layout, file, rows)


def _batches_of(src: Path, keys: list[Part]) -> Iterator[pl.DataFrame]:
    """Batch by batch, the rows of the Parquet file `src` with their provenance (from `keys`, one key part
    per batch, in the order the rows were written); `src` is removed at the end."""
    try:
        offset = 0
        for part in keys:
            ids = scan_part(part).select(STAGED_PROVENANCE).collect()
            rows = pl.scan_parquet(src).slice(offset, ids.height).collect()
            offset += ids.height
            yield pl.concat([ids, rows], how="horizontal")
    finally:
        src.unlink(missing_ok=True)


def _surviving(part: Part, drop: pl.DataFrame) -> pl.DataFrame:
    """The rows of a batch (a staged part, or a frame) less the row ids in `drop`, in input order (a polars
    join keeps no order unless told to). Batches go through this one join, so a file's Parquet bytes do not
    depend on whether its rows were staged, streamed or written after the cross-file rules (the Arrow chunks
    the join gives decide where a dictionary page spills)."""
    return scan_part(part).join(drop.lazy(), on=ROW_ID, how="anti", maintain_order="left").collect()
