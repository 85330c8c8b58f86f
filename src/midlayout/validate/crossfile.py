"""Rules across files, applied to the staged rows of a whole run: keys, references, one 世帯主 per 世帯.

Rejecting a row can break another rule (a 世帯 rejected for two 世帯主 leaves its 住民 without a 世帯),
so the rules run to a fixed point. They run in DuckDB over the staged Parquet parts, with a memory limit
and spilling to disk, so memory does not grow with the file: the key columns are copied once into a
DuckDB database in the work folder (with `_file` as a small file number), and only the rejected row ids
come back into polars.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from midlayout.layout.model import FileDef, Layout, staging_key
from midlayout.rejects import FILE, REC
from midlayout.sql import ident as _ident
from midlayout.sql import literal as _lit
from midlayout.sql import literal_list as _files

ROW_ID = [FILE, REC]
MEMORY_LIMIT: Final = "256MB"  # DuckDB's buffer limit for the checks; beyond it they spill to disk


@dataclass
class StagedFile:
    """A target file of the run: its layout, definition and the staged Parquet parts of its rows."""

    layout: Layout
    file: FileDef
    parts: list[Path]

    @property
    def name(self) -> str:
        return staging_key(self.layout.id, self.file.id)


@dataclass
class CrossResult:
    """Row ids rejected per staged file, with reasons, and references that could not be checked."""

    rejects: dict[str, pl.DataFrame] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)


_SCHEMA = {FILE: pl.String, REC: pl.Int64, "rule": pl.String, "item": pl.String, "message": pl.String}


def _resolve_target(ref_file: str, sf: StagedFile, staged: dict[str, StagedFile]) -> str | None:
    if ":" in ref_file:
        layout_id, file_id = ref_file.split(":")
        name = staging_key(layout_id, file_id)
    else:
        name = staging_key(sf.layout.id, ref_file)
    return name if name in staged else None


def _columns(staged: dict[str, StagedFile]) -> dict[str, list[str]]:
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
    `r{i}` (rejected row ids with their reasons) and the view `a{i}` (rows still alive)."""

    def __init__(self, staged: dict[str, StagedFile], work: Path, memory_limit: str) -> None:
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
        parts = [p for sf in staged.values() for p in sf.parts]
        self._exec(
            "CREATE TABLE files AS SELECT _file, (row_number() OVER (ORDER BY _file))::INTEGER AS _f FROM "
            f"(SELECT DISTINCT {_ident(FILE)} AS _file FROM read_parquet({_files(parts)}))"
            if parts
            else "CREATE TABLE files (_file VARCHAR, _f INTEGER)"
        )
        for name, sf in staged.items():
            i = self.idx[name]
            sel = ", ".join(f"s.{_ident(c)}" for c in cols[name])
            if sf.parts:
                source = f"read_parquet({_files(sf.parts)}) s JOIN files f ON s.{_ident(FILE)} = f._file"
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
        for item in sf.file.items:
            if not item.references:
                continue
            target = _resolve_target(item.references.file, sf, self.staged)
            if target is None:
                unchecked.add(f"{sf.name}.{item.id} → {item.references.file}.{item.references.item}")
                continue
            j, col, ref = self.idx[target], _ident(item.id), _ident(item.references.item)
            where = f"{self.staged[target].file.name}.{item.references.item}"
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


def check_run(staged: dict[str, StagedFile], work: Path, memory_limit: str = MEMORY_LIMIT) -> CrossResult:
    """Apply key uniqueness once, then references and exactly-one rules until nothing more is rejected.

    `work` is a scratch folder (created, then removed) for DuckDB's database and spill files.
    """
    checker = _Checker(staged, work, memory_limit)
    try:
        for name in staged:
            checker.key_rejects(name)
        unchecked: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name in staged:
                if checker.step(name, unchecked):
                    changed = True
        rejects = {name: checker.rejects(name) for name in staged}
    finally:
        checker.close()
        shutil.rmtree(work, ignore_errors=True)
    return CrossResult(rejects, sorted(unchecked))
