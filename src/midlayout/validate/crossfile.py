"""Rules across files, applied to the staged rows of a whole run: keys, references, one 世帯主 per 世帯.

Rejecting a row can break another rule (a 世帯 rejected for two 世帯主 leaves its 住民 without a 世帯),
so the rules run to a fixed point. They only ever read the columns some rule needs (keys, references and
their targets, check items: a few small columns of each batch). `KeyCollector` gathers those columns batch
by batch while the workers still run, so that after the last batch only the rules themselves remain.
While the rows fit the memory limit (`fits_in_memory`: at most CROSSFILE_IN_MEMORY_ROWS rows, estimated
at BYTES_PER_VALUE per value), they are kept in memory and the rules run with polars; past it, they spill
to Parquet files (the staged parts themselves, or small files of the rule columns) and the rules run in
DuckDB, within the memory limit and spilling to disk, so memory does not grow with the file: the columns
are copied once into a DuckDB database in the work folder (with `_file` as a small file number), and only
the rejected row ids come back into polars. Both give the same rejects, row for row.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from midlayout.layout.model import FileDef, Item, Layout, Reference, staging_key
from midlayout.rejects import FILE, REC, STAGED_PROVENANCE
from midlayout.sql import ident as _ident
from midlayout.sql import literal as _lit
from midlayout.sql import literal_list as _files

ROW_ID = [FILE, REC]
MEMORY_LIMIT: Final = "256MB"  # DuckDB's buffer limit for the checks; beyond it they spill to disk
# In memory (polars) up to this many staged rows, all target files together, and, when a memory limit is
# given (`--memory-limit`), while the rule columns' estimated size (BYTES_PER_VALUE per value, working copies
# of the joins included) is within it; above either, DuckDB out of core. Measured: 0.48M rows of 住民+世帯
# (2.3M values) peaked 124 MiB above the process's size before the check, about 57 bytes per value.
CROSSFILE_IN_MEMORY_ROWS = 2_000_000
BYTES_PER_VALUE = 64


Part = Path | pl.DataFrame  # a staged Parquet part, or a batch's provenance and rule columns kept in memory


def scan_part(part: Part) -> pl.LazyFrame:
    """A part's rows, lazily: read from disk, or the frame held in memory (whose `_file` may be held as a
    category: a string again here, as on disk)."""
    if isinstance(part, pl.DataFrame):
        return part.lazy().with_columns(pl.col(FILE).cast(pl.String))
    return pl.scan_parquet(part)


def key_columns(staged: Mapping[str, StagedFile]) -> dict[str, list[str]]:
    """Per staged file, what an in-process run keeps of its rows: the provenance (row id, offset and
    length, for the rejects and a rewrite) and the columns some rule reads."""
    return {name: [*STAGED_PROVENANCE, *cols] for name, cols in _columns(staged).items()}


@dataclass
class StagedFile:
    """A target file of the run: its layout, definition and its parts, in output order: staged Parquet
    parts of its rows, or (in-process runs, pipeline/staging.py) each batch's provenance and rule columns,
    in memory or on disk."""

    layout: Layout
    file: FileDef
    parts: list[Part]

    @property
    def name(self) -> str:
        return staging_key(self.layout.id, self.file.id)


@dataclass
class CrossResult:
    """Row ids rejected per staged file, with reasons, and references that could not be checked."""

    rejects: dict[str, pl.DataFrame] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)


_SCHEMA = {FILE: pl.String, REC: pl.Int64, "rule": pl.String, "item": pl.String, "message": pl.String}


def _resolve_target(ref_file: str, sf: StagedFile, staged: Mapping[str, StagedFile]) -> str | None:
    if ":" in ref_file:
        layout_id, file_id = ref_file.split(":")
        name = staging_key(layout_id, file_id)
    else:
        name = staging_key(sf.layout.id, ref_file)
    return name if name in staged else None


def _references_to_check(
    sf: StagedFile, staged: Mapping[str, StagedFile], unchecked: set[str]
) -> Iterator[tuple[Item, Reference, str]]:
    """The items of `sf` that reference another file, each with its reference and the staged file it names; a reference
    to a file not in this run is added to `unchecked` instead (both engines report it the same way)."""
    for item in sf.file.items:
        if not item.references:
            continue
        target = _resolve_target(item.references.file, sf, staged)
        if target is None:
            unchecked.add(f"{sf.name}.{item.id} → {item.references.file}.{item.references.item}")
            continue
        yield item, item.references, target


def _columns(staged: Mapping[str, StagedFile]) -> dict[str, list[str]]:
    """Per staged file, the columns some rule reads (keys, references and their targets, check items)."""
    cols: dict[str, list[str]] = {name: list(sf.file.key) for name, sf in staged.items()}
    for name, sf in staged.items():
        for item in sf.file.items:
            target = _resolve_target(item.references.file, sf, staged) if item.references else None
            if item.references and target is not None:
                cols[name].append(item.id)
                cols[target].append(item.references.item)
        for chk in sf.file.checks:
            other = staging_key(sf.layout.id, chk.file)
            if other in staged:
                cols[name].append(sf.file.key[0])
                cols[other] += [chk.via, chk.item]
    return {name: list(dict.fromkeys(c)) for name, c in cols.items()}


class _Checker:
    """One DuckDB database holding, per staged file `i`: `t{i}` (file number, record, rule columns),
    `r{i}` (rejected row ids with their reasons) and the view `a{i}` (rows still alive), loaded from
    `files` (per staged file: Parquet files holding at least the row id and its rule columns)."""

    def __init__(
        self, staged: Mapping[str, StagedFile], work: Path, memory_limit: str, files: dict[str, list[Path]]
    ) -> None:
        from midlayout.duckcon import open_duckdb

        self.staged = staged
        self.idx = {name: i for i, name in enumerate(staged)}
        work.mkdir(parents=True, exist_ok=True)
        self.con = open_duckdb(str(work / "crossfile.duckdb"))
        spill = work / "spill"
        self._exec(
            f"SET memory_limit = {_lit(memory_limit)}; SET temp_directory = {_lit(spill)}; "
            "SET preserve_insertion_order = false"
        )
        cols = _columns(staged)
        parts = [p for name in staged for p in files[name]]
        self._exec(
            "CREATE TABLE files AS SELECT _file, (row_number() OVER (ORDER BY _file))::INTEGER AS _f FROM "
            f"(SELECT DISTINCT {_ident(FILE)} AS _file FROM read_parquet({_files(parts)}, union_by_name = true))"
            if parts
            else "CREATE TABLE files (_file VARCHAR, _f INTEGER)"
        )
        for name in staged:
            i = self.idx[name]
            sel = ", ".join(f"s.{_ident(c)}" for c in cols[name])
            if files[name]:
                source = (
                    f"read_parquet({_files(files[name])}, union_by_name = true) s "
                    f"JOIN files f ON s.{_ident(FILE)} = f._file"
                )
                self._exec(
                    f"CREATE TABLE t{i} AS SELECT f._f, s.{_ident(REC)} AS _rec"
                    f"{', ' + sel if sel else ''} FROM {source}"
                )
            else:
                typed = "".join(f", NULL::VARCHAR AS {_ident(c)}" for c in cols[name])
                self._exec(
                    f"CREATE TABLE t{i} AS SELECT NULL::INTEGER AS _f, NULL::BIGINT AS _rec{typed} LIMIT 0"
                )
            self._exec(
                f"CREATE TABLE r{i} (_f INTEGER, _rec BIGINT, rule VARCHAR, item VARCHAR, message VARCHAR)"
            )
            self._exec(
                f"CREATE VIEW a{i} AS SELECT * FROM t{i} t "
                f"WHERE NOT EXISTS (SELECT 1 FROM r{i} r WHERE r._f = t._f AND r._rec = t._rec)"
            )

    def _exec(self, sql: str) -> list[tuple[object, ...]]:
        """Run one statement to its end (DuckDB leaves a result open until it is fetched)."""
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()

    def key_rejects(self, name: str) -> None:
        """Every row whose key occurs more than once (null keys compare equal, as in a group by)."""
        sf, i = self.staged[name], self.idx[name]
        key = list(sf.file.key)
        if not key:
            return
        cols = ", ".join(_ident(k) for k in key)
        on = " AND ".join(f"t.{_ident(k)} IS NOT DISTINCT FROM d.{_ident(k)}" for k in key)
        message = f"key {'+'.join(key)} is not unique in {sf.file.name}"
        self._exec(
            f"INSERT INTO r{i} SELECT t._f, t._rec, 'key_unique', {_lit(','.join(key))}, {_lit(message)} "
            f"FROM t{i} t SEMI JOIN (SELECT {cols} FROM t{i} GROUP BY ALL HAVING count(*) > 1) d ON {on}"
        )

    def _references(self, name: str, unchecked: set[str]) -> list[str]:
        sf, i = self.staged[name], self.idx[name]
        out = []
        for item, reference, target in _references_to_check(sf, self.staged, unchecked):
            j, col, ref = self.idx[target], _ident(item.id), _ident(reference.item)
            where = f"{self.staged[target].file.name}.{reference.item}"
            # A key that was staged but is no longer alive belongs to a row rejected by a cross-file rule.
            rejected = _lit(f"{item.name} matches a {where} row that was itself rejected")
            missing = _lit(f"{item.name} has no match in {where}")
            out.append(
                f"SELECT c._f, c._rec, 'reference' AS rule, {_lit(item.id)} AS item, "
                f"CASE WHEN EXISTS (SELECT 1 FROM t{j} s WHERE s.{ref} = c.{col}) THEN {rejected} "
                f"ELSE {missing} END AS message FROM a{i} c "
                f"WHERE c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM a{j} k WHERE k.{ref} = c.{col})"
            )
        return out

    def _exactly_one(self, name: str) -> list[str]:
        sf, i = self.staged[name], self.idx[name]
        out = []
        for chk in sf.file.checks:
            other = staging_key(sf.layout.id, chk.file)
            if other not in self.staged:
                continue
            j, via, key = self.idx[other], _ident(chk.via), _ident(sf.file.key[0])
            counts = (
                f"SELECT {via} AS v, count(*) AS n FROM a{j} WHERE {_ident(chk.item)} = {_lit(chk.value)} "
                f"GROUP BY {via}"
            )
            n = "coalesce(m.n, 0)"
            out.append(
                f"SELECT c._f, c._rec, {_lit(chk.id)} AS rule, {_lit(chk.item)} AS item, "
                f"{_lit(chk.message + ': ')} || CAST({n} AS VARCHAR) || '件' AS message "
                f"FROM a{i} c LEFT JOIN ({counts}) m ON c.{key} = m.v WHERE {n} <> 1"
            )
        return out

    def step(self, name: str, unchecked: set[str]) -> int:
        """Reject the alive rows of `name` that break a reference or check now; the first rule wins."""
        i = self.idx[name]
        rules = [*self._references(name, unchecked), *self._exactly_one(name)]
        if not rules:
            return 0
        union = " UNION ALL ".join(f"SELECT {p} AS prio, * FROM ({q})" for p, q in enumerate(rules))
        self._exec(
            "CREATE OR REPLACE TEMP TABLE fresh AS SELECT _f, _rec, rule, item, message "
            f"FROM ({union}) QUALIFY row_number() OVER (PARTITION BY _f, _rec ORDER BY prio) = 1"
        )
        self._exec(f"INSERT INTO r{i} SELECT * FROM fresh")
        return int(self._exec("SELECT count(*) FROM fresh")[0][0])  # type: ignore[call-overload]

    def rejects(self, name: str) -> pl.DataFrame:
        i = self.idx[name]
        frame = self.con.sql(
            f"SELECT f._file AS {_ident(FILE)}, r._rec AS {_ident(REC)}, r.rule, r.item, r.message "
            f"FROM r{i} r JOIN files f ON r._f = f._f ORDER BY f._f, r._rec"
        ).pl()
        return frame.cast(_SCHEMA)  # type: ignore[arg-type]


def _rows(sf: StagedFile) -> int:
    return sum(int(scan_part(p).select(pl.len()).collect().item()) for p in sf.parts)


def fits_in_memory(staged: Mapping[str, StagedFile], memory_limit: str | None) -> bool:
    """Whether the rule columns of `staged` are small enough to check in memory (from the parts' metadata):
    at most CROSSFILE_IN_MEMORY_ROWS rows, and within `memory_limit` when one is given."""
    return _fits({name: _rows(sf) for name, sf in staged.items()}, _columns(staged), memory_limit)


def _fits(rows: dict[str, int], cols: dict[str, list[str]], memory_limit: str | None) -> bool:
    if sum(rows.values()) > CROSSFILE_IN_MEMORY_ROWS:
        return False
    values = sum(n * (len(cols[name]) + len(ROW_ID)) for name, n in rows.items())
    return memory_limit is None or values * BYTES_PER_VALUE <= memory_bytes(memory_limit)


def memory_bytes(limit: str) -> int:
    """`256MB` / `1.5GiB` (as parse_memory_limit gives it) in bytes."""
    units = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    units |= {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
    unit = next(u for u in sorted(units, key=len, reverse=True) if limit.endswith(u))
    return int(float(limit[: -len(unit)]) * units[unit])


class _InMemory:
    """The same rules over the rule columns in polars frames: per staged file, its rows (`_i` = position),
    whether each is still alive, and the rejects so far (`_i`, rule, item, message). The frames come from
    `KeyCollector`."""

    def __init__(self, staged: Mapping[str, StagedFile], frames: dict[str, pl.DataFrame]) -> None:
        self.staged = staged
        self.rows = {name: frames[name].with_row_index("_i") for name in staged}
        self.alive = {
            name: pl.Series("alive", [True] * f.height, pl.Boolean) for name, f in self.rows.items()
        }
        self.dead = dict.fromkeys(staged, 0)
        self.rejected: dict[str, list[pl.DataFrame]] = {name: [] for name in staged}
        self.seen: dict[tuple[str, str, str], int] = {}  # per rule: how many rejected parts it has seen

    def live(self, name: str, *cols: str) -> pl.DataFrame:
        """The rows of `name` still alive: their position and `cols`."""
        rows = self.rows[name].select("_i", *dict.fromkeys(cols))
        return rows.filter(self.alive[name]) if self.dead[name] else rows

    def _gone(self, rule: tuple[str, str, str], target: str) -> pl.DataFrame | None:
        """The rows of `target` rejected since `rule` last looked at it (None: it never did). Rows only
        ever die, so a row that passed a rule can fail it later only through those."""
        start = self.seen.get(rule)
        self.seen[rule] = len(self.rejected[target])
        if start is None:
            return None
        dead = self.rejected[target][start:]
        if not dead:
            return self.rows[target].clear()
        return self.rows[target][pl.concat([d.get_column("_i") for d in dead])]

    def _reject(self, name: str, fresh: pl.DataFrame) -> int:
        if not fresh.height:
            return 0
        self.rejected[name].append(fresh)
        dead = pl.Series(fresh.get_column("_i")).cast(pl.Int64)
        self.alive[name] = self.alive[name].scatter(dead, False)
        self.dead[name] += fresh.height
        return fresh.height

    def key_rejects(self, name: str) -> None:
        sf = self.staged[name]
        key = list(sf.file.key)
        if not key:
            return
        dup = self.rows[name].filter(pl.len().over(key) > 1)
        self._reject(
            name,
            dup.select(
                "_i",
                pl.lit("key_unique").alias("rule"),
                pl.lit(",".join(key)).alias("item"),
                pl.lit(f"key {'+'.join(key)} is not unique in {sf.file.name}").alias("message"),
            ),
        )

    def _references(self, name: str, unchecked: set[str]) -> list[pl.DataFrame]:
        sf = self.staged[name]
        out = []
        for item, reference, target in _references_to_check(sf, self.staged, unchecked):
            ref, col = reference.item, item.id
            rows = self.live(name, col).filter(pl.col(col).is_not_null())
            gone = self._gone(("reference", name, item.id), target)
            if gone is not None:  # checked before: only a value whose target rows died since can fail now
                rows = rows.filter(pl.col(col).is_in(gone.get_column(ref).drop_nulls().unique().implode()))
            if not rows.height:
                continue
            alive = self.live(target, ref).select(pl.col(ref).alias(col))
            bad = rows.join(alive, on=col, how="anti")  # null keys match nothing: the nulls are gone
            if not bad.height:
                continue
            staged_keys = self.rows[target].get_column(ref).implode()
            where = f"{self.staged[target].file.name}.{ref}"
            # A key that was staged but is no longer alive belongs to a row rejected by a cross-file rule.
            message = (
                pl.when(pl.col(col).is_in(staged_keys))
                .then(pl.lit(f"{item.name} matches a {where} row that was itself rejected"))
                .otherwise(pl.lit(f"{item.name} has no match in {where}"))
            )
            out.append(
                bad.select(
                    "_i",
                    pl.lit("reference").alias("rule"),
                    pl.lit(item.id).alias("item"),
                    message.alias("message"),
                )
            )
        return out

    def _exactly_one(self, name: str) -> list[pl.DataFrame]:
        sf = self.staged[name]
        out = []
        for chk in sf.file.checks:
            other = staging_key(sf.layout.id, chk.file)
            if other not in self.staged:
                continue
            key = sf.file.key[0]
            rows = self.live(name, key)
            members = self.live(other, chk.via, chk.item).filter(pl.col(chk.item) == chk.value)
            gone = self._gone((chk.id, name, chk.item), other)
            if gone is not None:  # checked before: only a count that lost members since can be wrong now
                changed = gone.filter(pl.col(chk.item) == chk.value).get_column(chk.via).drop_nulls().unique()
                if not changed.len():
                    continue
                rows = rows.filter(pl.col(key).is_in(changed.implode()))
                members = members.filter(pl.col(chk.via).is_in(changed.implode()))
            counts = members.group_by(chk.via).agg(pl.len().alias("_n")).filter(pl.col(chk.via).is_not_null())
            n = pl.col("_n").fill_null(0)
            bad = rows.join(counts, left_on=key, right_on=chk.via, how="left").filter(n != 1)
            out.append(
                bad.select(
                    "_i",
                    pl.lit(chk.id).alias("rule"),
                    pl.lit(chk.item).alias("item"),
                    (pl.lit(chk.message + ": ") + n.cast(pl.String) + pl.lit("件")).alias("message"),
                )
            )
        return out

    def step(self, name: str, unchecked: set[str]) -> int:
        """Reject the alive rows of `name` that break a reference or check now; the first rule wins."""
        found = [*self._references(name, unchecked), *self._exactly_one(name)]
        if not found:
            return 0
        fresh = pl.concat([f.cast({"_i": pl.UInt32}) for f in found]).unique(
            "_i", keep="first", maintain_order=True
        )
        return self._reject(name, fresh)

    def rejects(self, name: str) -> pl.DataFrame:
        parts = self.rejected[name]
        if not parts:
            return pl.DataFrame(schema=_SCHEMA)
        found = pl.concat(parts)
        ids = self.rows[name].select(pl.col(FILE).cast(pl.String), REC).gather(found.get_column("_i"))
        frame = pl.concat([ids, found.drop("_i")], how="horizontal").sort(ROW_ID)
        return frame.cast(_SCHEMA)  # type: ignore[arg-type]


class KeyCollector:
    """The rule columns of each target's rows, gathered batch by batch while the workers still run (`add`
    for a frame in memory, `add_part` for a staged Parquet part), so that after the last batch only the
    rules themselves remain (`finish`).

    In memory (polars) while the rows so far fit (`fits_in_memory`'s estimate, with `bound` as its memory
    limit: the run's own, None when not given) and `expected` rows (per target, when the inputs tell them
    up front: fixed-width sizes) do too; otherwise, or from the batch that crosses it on, or from the start
    when `in_memory` is False, they spill: a staged part is only remembered, a frame's rule columns are
    written to a small Parquet file in `work` (a scratch folder, created, then removed), and the rules run
    in DuckDB within `memory_limit` over those files, so memory does not grow with the file.
    `in_memory=True` never spills. The engine depends on the totals (as `fits_in_memory` decides on the
    staged parts) and on that estimate, never on the order in which batches arrive; neither do the rejects
    (they come out sorted by row id, the same from either engine). The work runs in one thread beside the caller (polars and DuckDB release the GIL), at most
    LANE_DEPTH batches behind; an error is raised at the next call.
    """

    LANE_DEPTH = 2

    def __init__(
        self,
        targets: Mapping[str, tuple[Layout, FileDef]],
        work: Path,
        memory_limit: str = MEMORY_LIMIT,
        bound: str | None = None,
        in_memory: bool | None = None,
        expected: Mapping[str, int] | None = None,
    ) -> None:
        self.staged = {name: StagedFile(layout, file, []) for name, (layout, file) in targets.items()}
        self.cols = _columns(self.staged)
        self.work, self.memory_limit, self.bound, self.in_memory = work, memory_limit, bound, in_memory
        self.frames: dict[str, list[pl.DataFrame]] = {name: [] for name in self.staged}
        self.rows = dict.fromkeys(self.staged, 0)
        # Once spilled: per target, Parquet files holding its rule columns (staged parts, or written here).
        self.spilled: dict[str, list[Path]] | None = None
        if in_memory is False or (
            in_memory is None
            and expected is not None
            and not _fits({n: expected.get(n, 0) for n in self.staged}, self.cols, bound)
        ):
            self.spilled = {name: [] for name in self.staged}
        self.lane = ThreadPoolExecutor(1, thread_name_prefix="midlayout-crossfile")
        self.pending: list[Future[None]] = []
        self.seconds = 0.0  # wall time the thread spent on batches

    def columns(self, name: str) -> list[str]:
        """What a batch of `name` must hold: the row id and the columns some rule reads."""
        return [*ROW_ID, *self.cols[name]]

    def add(self, name: str, job: int, frame: pl.DataFrame) -> None:
        """One batch of target `name`'s valid rows (from job `job`; any order), as a frame."""
        rows = frame.select(self.columns(name))
        self._submit(lambda: self._add(name, rows))

    def add_part(self, name: str, job: int, part: Path) -> None:
        """One staged part of target `name`'s valid rows: its rule columns only are read (in the thread),
        or, once spilled, the part is only remembered (it stays until `finish`)."""
        self._submit(lambda: self._add(name, part))

    def _submit(self, fn: Callable[[], None]) -> None:
        self.pending.append(self.lane.submit(fn))
        while self.pending and (self.pending[0].done() or len(self.pending) > self.LANE_DEPTH):
            self.pending.pop(0).result()

    def _add(self, name: str, rows: pl.DataFrame | Path) -> None:
        start = time.perf_counter()
        try:
            if self.spilled is not None:
                self.spilled[name].append(rows if isinstance(rows, Path) else self._spill(name, rows))
                return
            frame = pl.read_parquet(rows, columns=self.columns(name)) if isinstance(rows, Path) else rows
            self.frames[name].append(frame.with_columns(pl.col(FILE).cast(pl.Categorical)))
            self.rows[name] += frame.height
            if self.in_memory is None and not _fits(self.rows, self.cols, self.bound):
                self.spilled = {
                    n: [self._spill(n, pl.concat(f))] if f else [] for n, f in self.frames.items()
                }
                self.frames = {n: [] for n in self.staged}
        finally:
            self.seconds += time.perf_counter() - start

    def _spill(self, name: str, frame: pl.DataFrame) -> Path:
        self.work.mkdir(parents=True, exist_ok=True)
        path = self.work / f"keys-{len(list(self.work.glob('keys-*'))):06d}.parquet"
        frame.with_columns(pl.col(FILE).cast(pl.String)).write_parquet(path, compression="lz4")
        return path

    def finish(self) -> CrossResult:
        """After the last batch: key uniqueness once, then references and exactly-one rules until nothing
        more is rejected. Closes the collector."""
        try:
            for future in self.pending:
                future.result()
            self.pending = []
            if self.spilled is not None:
                checker = _Checker(self.staged, self.work, self.memory_limit, self.spilled)
                try:
                    return _fixed_point(checker, self.staged)
                finally:
                    checker.close()
            frames = {}
            for name, parts in self.frames.items():
                empty = pl.DataFrame(
                    schema={FILE: pl.Categorical, REC: pl.Int64} | dict.fromkeys(self.cols[name], pl.String)
                )
                frames[name] = pl.concat(parts) if parts else empty
            self.frames = {}
            return _fixed_point(_InMemory(self.staged, frames), self.staged)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread (what runs is waited for; errors dropped) and remove the scratch folder."""
        self.lane.shutdown(wait=True, cancel_futures=True)
        self.pending, self.frames = [], {}
        shutil.rmtree(self.work, ignore_errors=True)


def check_run(
    staged: dict[str, StagedFile], work: Path, memory_limit: str = MEMORY_LIMIT, in_memory: bool | None = None
) -> CrossResult:
    """The cross-file rules over staged parts (`KeyCollector` fed every part, then finished): in memory
    with polars when `in_memory` (default: when the rule columns fit `memory_limit`, `fits_in_memory`),
    else in DuckDB within `memory_limit`, with `work` as its scratch folder (created, then removed)."""
    collector = KeyCollector(
        {name: (sf.layout, sf.file) for name, sf in staged.items()},
        work,
        memory_limit,
        memory_limit,
        in_memory,
    )
    try:
        for name, sf in staged.items():
            for part in sf.parts:
                if isinstance(part, Path):
                    collector.add_part(name, 0, part)
                else:
                    collector.add(name, 0, part)
    except BaseException:
        collector.close()
        raise
    return collector.finish()


def _fixed_point(checker: _Checker | _InMemory, staged: Mapping[str, StagedFile]) -> CrossResult:
    for name in staged:
        checker.key_rejects(name)
    unchecked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name in staged:
            if checker.step(name, unchecked):
                changed = True
    return CrossResult({name: checker.rejects(name) for name in staged}, sorted(unchecked))
