"""The staging area of a run: staged rows, rejects and 外字 occurrences as Parquet parts under `--out`.

Part names sort in run order. Each part of valid rows is handed on as it is staged (`on_rows`: the
streaming writers, pipeline/session.py) and its rule columns to the cross-file rules (`keys`, a
`KeyCollector` that gathers them while the workers still run); after the last batch the rules run and
their rejects are added here, and the rejects of the whole run are written from here.

A target in `in_memory` (its batches run in this process, and its streamed Parquet output can give its
rows back: `WriterSession.rebuildable`) has no staged rows: each batch's frame goes straight to `on_rows`,
its rule columns to `keys`, and only its provenance is kept, as its parts: in memory up to
KEYS_IN_MEMORY_BYTES for the whole run, then as small Parquet parts (all of them, so that memory stays
bounded).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.model import FileDef, Layout
from midlayout.mapping.compile import compile_file
from midlayout.pipeline.batches import STAGE_COMPRESSION, Done
from midlayout.pipeline.inputs import Job
from midlayout.pipeline.plan import target_name
from midlayout.readers.gaiji import empty_gaiji
from midlayout.rejects import (
    DETAIL,
    DETAIL_TYPE,
    FILE,
    LEN,
    OFF,
    REC,
    REJECT_SCHEMA,
    STAGED_PROVENANCE,
    empty_rejects,
    rejects_from,
    with_raw,
)
from midlayout.validate.crossfile import ROW_ID, KeyCollector, Part, StagedFile, key_columns, scan_part

# Provenance of the batches kept in memory, all targets together (polars' estimated size; string views make
# the resident size about 1.5 times that), before it all goes to disk as Parquet parts. The 4 GB extract's
# peak RSS (≤ 1 GB) has room for this, not for much more.
KEYS_IN_MEMORY_BYTES = 64 << 20


@dataclass
class Stage:
    """Staged rows (by staging key), rejects and 外字 occurrences of a run, on disk under `root`."""

    root: Path
    parts: dict[str, list[Part]] = field(default_factory=dict)
    reject_parts: list[Path] = field(default_factory=list)
    gaiji_parts: list[Path] = field(default_factory=list)
    # (target, job, rows) as each batch of valid rows comes: a staged part, or the frame (`in_memory`)
    on_rows: Callable[[str, int, Path | pl.DataFrame], None] | None = None
    in_memory: set[str] = field(default_factory=set)  # targets whose rows are not staged (their provenance)
    keys_bytes: int = 0  # estimated size of the provenance held in memory; -1 once it went to disk
    keys: KeyCollector | None = None  # the cross-file rules' columns, gathered as each part is staged
    removing: threading.Thread | None = None  # removes the parts of valid rows once they are written

    def drop_rows(self) -> None:
        """Once every target is written: remove the parts of valid rows in a thread, beside the writers'
        commit (`staging` waits for it before removing the rest)."""
        parts = [p for paths in self.parts.values() for p in paths if isinstance(p, Path)]
        self.parts = {}
        self.removing = threading.Thread(target=_unlink, args=(parts,), name="midlayout-unstage", daemon=True)
        self.removing.start()

    def collect_keys(self, jobs: list[Job], memory_limit: str, bound: str | None) -> KeyCollector:
        """Gather the cross-file rules' columns of every part staged from now on (`cross_rejects` runs
        the rules): in memory while they fit `bound` (the run's own memory limit, None when not given) and
        the fixed-width inputs' record counts say they will, else in DuckDB within `memory_limit`, in a
        scratch folder of the staging area."""
        expected: dict[str, int] = {}
        for job in jobs:
            src = job.source
            if src.format == "fixed" and src.record_length:  # at most this many records (CSV: unknown)
                size = job.path.stat().st_size
                n = size // (src.record_length + (0 if src.terminator_auto else len(src.terminator)))
                expected[target_name(job)] = expected.get(target_name(job), 0) + n
        self.keys = KeyCollector(
            self.targets(jobs), self.root / "crossfile", memory_limit, bound, expected=expected
        )
        return self.keys

    def _staged(self, target: str, job: int, part: Path) -> None:
        if self.on_rows is not None:
            self.on_rows(target, job, part)
        if self.keys is not None:
            self.keys.add_part(target, job, part)

    def add(self, target: str, done: Done) -> None:
        if isinstance(done.rows, pl.DataFrame):
            assert done.keys is not None and target in self.in_memory
            self._unstaged(target, done.job, done.rows, done.keys)
        else:
            self.parts.setdefault(target, []).append(done.rows)
            self._staged(target, done.job, done.rows)
        if done.rejects is not None:
            self.reject_parts.append(done.rejects)
        if done.gaiji is not None:
            self.gaiji_parts.append(done.gaiji)

    def _unstaged(self, target: str, job: int, rows: pl.DataFrame, keys: pl.DataFrame) -> None:
        """A batch kept in memory: the frame to the writers, its rule columns to the cross-file rules, its
        provenance kept (for the rejects and a rewrite)."""
        if self.on_rows is not None:
            self.on_rows(target, job, rows)
        if self.keys is not None:
            self.keys.add(target, job, keys)
        provenance = keys.select(STAGED_PROVENANCE)
        parts = self.parts.setdefault(target, [])
        if self.keys_bytes < 0:
            parts.append(self._write_keys(target, provenance, len(parts)))
            return
        parts.append(provenance)
        self.keys_bytes += int(provenance.estimated_size())
        if self.keys_bytes > KEYS_IN_MEMORY_BYTES:
            self.keys_to_disk()

    def _write_keys(self, target: str, keys: pl.DataFrame, n: int) -> Path:
        path = self.root / f"keys-{_stem(target)}-{n:06d}.parquet"
        scan_part(keys).collect().write_parquet(path, compression=STAGE_COMPRESSION)
        return path

    def keys_to_disk(self) -> None:
        """The provenance held in memory to Parquet parts, and that still to come too."""
        for target, parts in self.parts.items():
            for n, part in enumerate(parts):
                if isinstance(part, pl.DataFrame):
                    parts[n] = self._write_keys(target, part, n)
        self.keys_bytes = -1

    def sort(self) -> None:
        """Batches finish in any order across jobs; outputs follow input order. (The parts of a target kept
        in memory come in order: its jobs run in job order, `ReadPhase`.)"""
        for target, parts in self.parts.items():
            if target not in self.in_memory:
                parts.sort(key=lambda p: p.name.rsplit("-", 2)[-2:])  # type: ignore[union-attr]
        for paths in (self.reject_parts, self.gaiji_parts):
            paths.sort(key=lambda p: p.name.rsplit("-", 2)[-2:])

    def gaiji(self) -> pl.DataFrame:
        return (
            pl.concat([pl.read_parquet(p) for p in self.gaiji_parts]) if self.gaiji_parts else empty_gaiji()
        )

    def add_rows(self, target: str, frame: pl.DataFrame, job: int = 0) -> None:
        if target in self.in_memory:
            self._unstaged(target, job, frame, frame)
            return
        parts = self.parts.setdefault(target, [])
        path = self.root / f"{_stem(target)}-{len(parts):05d}.parquet"
        frame.write_parquet(path, compression=STAGE_COMPRESSION)
        parts.append(path)
        self._staged(target, job, path)

    def add_rejects(self, frame: pl.DataFrame) -> None:
        if frame.height:
            path = self.root / f"rejects-9999-{len(self.reject_parts):06d}.parquet"
            frame.write_parquet(path, compression=STAGE_COMPRESSION)
            self.reject_parts.append(path)

    def add_empty_targets(self, jobs: list[Job]) -> None:
        """An input with no valid row still stages a typed, empty frame of its target."""
        for i, job in enumerate(jobs):
            target = target_name(job)
            if not self.parts.get(target):
                compiled = compile_file(job.mapping, job.rule)
                schema: dict[str, pl.DataType] = {
                    FILE: pl.String(),
                    REC: pl.Int64(),
                    OFF: pl.Int64(),
                    LEN: pl.Int64(),
                }
                schema |= {it.id: polars_dtype(it) for it in compiled.target.items}
                self.add_rows(target, pl.DataFrame(schema=schema), i)

    @staticmethod
    def targets(jobs: list[Job]) -> dict[str, tuple[Layout, FileDef]]:
        """Each target's layout and file, by staging key, in output order (as `staged_files`)."""
        return {target_name(j): (j.mapping.target, j.mapping.target.file(j.rule.target)) for j in jobs}

    def keep_in_memory(self, jobs: list[Job], order: list[int]) -> dict[int, tuple[str, ...]]:
        """Of the targets asked for in `in_memory`, those whose jobs run in job order (`order`: the execution
        order; a target whose jobs do not is staged, then sorted); return, per job of the others, the columns
        of its rows kept in memory (`key_columns`)."""
        ran: dict[str, list[int]] = {}
        for i in order:
            ran.setdefault(target_name(jobs[i]), []).append(i)
        self.in_memory = {t for t in self.in_memory if ran.get(t, []) == sorted(ran.get(t, []))}
        cols = key_columns(
            {name: StagedFile(layout, file, []) for name, (layout, file) in self.targets(jobs).items()}
        )
        return {
            i: tuple(cols[target_name(j)]) for i, j in enumerate(jobs) if target_name(j) in self.in_memory
        }

    def staged_files(self, jobs: list[Job]) -> dict[str, StagedFile]:
        """Each target's layout file and staged parts, by staging key."""
        return {
            target_name(j): StagedFile(
                j.mapping.target, j.mapping.target.file(j.rule.target), self.parts[target_name(j)]
            )
            for j in jobs
        }

    def write_rejects(self, out_dir: Path) -> pl.DataFrame:
        """rejects.parquet and rejects.csv (raw bytes as hex), each written atomically; return the rejects as
        staged (with their detail column, which the text reports read)."""
        rejects = (
            pl.concat([pl.read_parquet(p) for p in self.reject_parts])
            if self.reject_parts
            else empty_rejects()
        )
        rejects = rejects.cast({**REJECT_SCHEMA, DETAIL: DETAIL_TYPE}).sort(  # type: ignore[arg-type,dict-item]
            "file", "record", "stage", maintain_order=True
        )
        written = rejects.drop(DETAIL)
        for name, frame in (
            ("rejects.parquet", written),
            ("rejects.csv", written.with_columns(pl.col("raw").bin.encode("hex"))),
        ):
            temp = out_dir / f".{name}.tmp"
            frame.write_parquet(temp) if name.endswith(".parquet") else frame.write_csv(temp)
            temp.replace(out_dir / name)
        return rejects


def _stem(target: str) -> str:
    return target.replace("/", "_").replace(":", "__")


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


@contextmanager
def staging(root: Path) -> Iterator[Stage]:
    """A fresh staging area at `root` (owner-only: it holds personal data), removed afterwards whatever happens."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700, parents=True)
    stage = Stage(root)
    try:
        yield stage
    finally:
        if stage.keys is not None:
            stage.keys.close()
        if stage.removing is not None:
            stage.removing.join()
        shutil.rmtree(root, ignore_errors=True)


def cross_rejects(stage: Stage) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """After the last batch: run the cross-file rules over the columns `stage.keys` gathered; stage their
    rejects (with raw bytes); return the rejected row ids per target and the references left unchecked."""
    if stage.keys is None:
        raise RuntimeError("the staging area gathered no rule columns (collect_keys was not called)")
    result = stage.keys.finish()
    for name, ids in result.rejects.items():
        if ids.height:
            # Part by part: only the rejected records' provenance is read (their `_rec` prefilters the scan),
            # then their raw bytes are read back from the inputs.
            recs = ids.get_column(REC).unique()
            rows = with_raw(
                pl.concat(
                    [
                        scan_part(part)
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
