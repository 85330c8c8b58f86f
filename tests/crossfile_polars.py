"""The cross-file checker as it was before it moved to DuckDB (all key columns and row ids in polars).

Kept unchanged as the reference the DuckDB checker (`midlayout.validate.crossfile`) must agree with, row for
row, rule for rule and message for message: see tests/test_crossfile.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.rejects import FILE, REC

ROW_ID = [FILE, REC]


@dataclass
class StagedFile:
    """A target file of the run: its layout, definition and the staged rows (lazy)."""

    layout: Layout
    file: FileDef
    rows: pl.LazyFrame

    @property
    def name(self) -> str:
        return f"{self.layout.id}:{self.file.id}"


@dataclass
class CrossResult:
    """Row ids rejected per staged file, with reasons, and references that could not be checked."""

    rejects: dict[str, pl.DataFrame] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)


_SCHEMA = {FILE: pl.String, REC: pl.Int64, "rule": pl.String, "item": pl.String, "message": pl.String}


def _key_rejects(sf: StagedFile) -> pl.DataFrame:
    key = list(sf.file.key)
    rows = sf.rows.select(*ROW_ID, *key).collect()
    dup = rows.filter(pl.len().over(key) > 1)
    return dup.select(
        *ROW_ID,
        pl.lit("key_unique").alias("rule"),
        pl.lit(",".join(key)).alias("item"),
        pl.lit(f"key {'+'.join(key)} is not unique in {sf.file.name}").alias("message"),
    )


def _resolve_target(ref_file: str, sf: StagedFile, staged: dict[str, StagedFile]) -> str | None:
    if ":" in ref_file:
        layout_id, file_id = ref_file.split(":")
        name = f"{layout_id}:{file_id}"
    else:
        name = f"{sf.layout.id}:{ref_file}"
    return name if name in staged else None


class _Alive:
    """The surviving row ids of each file, shrinking as rules reject rows."""

    def __init__(self, staged: dict[str, StagedFile], rejected: dict[str, pl.DataFrame]) -> None:
        self.staged = staged
        self.rejected = rejected

    def rows(self, name: str, cols: list[str]) -> pl.DataFrame:
        rows = self.staged[name].rows.select(*ROW_ID, *cols).collect()
        return rows.join(self.rejected[name].select(ROW_ID), on=ROW_ID, how="anti")


def _reference_rejects(alive: _Alive, name: str, unchecked: set[str]) -> pl.DataFrame:
    sf = alive.staged[name]
    out = []
    for item in sf.file.items:
        if not item.references:
            continue
        target = _resolve_target(item.references.file, sf, alive.staged)
        if target is None:
            unchecked.add(f"{sf.name}.{item.id} → {item.references.file}.{item.references.item}")
            continue
        ref = item.references.item
        keys = alive.rows(target, [ref]).get_column(ref).unique()
        staged_keys = alive.staged[target].rows.select(ref).collect().get_column(ref).unique()
        rows = alive.rows(name, [item.id]).filter(
            pl.col(item.id).is_not_null() & ~pl.col(item.id).is_in(keys.implode())
        )
        where = f"{alive.staged[target].file.name}.{ref}"
        # A key that was staged but is no longer alive belongs to a row rejected by a cross-file rule.
        message = (
            pl.when(pl.col(item.id).is_in(staged_keys.implode()))
            .then(pl.lit(f"{item.name} matches a {where} row that was itself rejected"))
            .otherwise(pl.lit(f"{item.name} has no match in {where}"))
        )
        out.append(
            rows.select(
                *ROW_ID,
                pl.lit("reference").alias("rule"),
                pl.lit(item.id).alias("item"),
                message.alias("message"),
            )
        )
    return pl.concat(out) if out else pl.DataFrame(schema=_SCHEMA)


def _exactly_one_rejects(alive: _Alive, name: str) -> pl.DataFrame:
    sf = alive.staged[name]
    out = []
    for chk in sf.file.checks:
        other = f"{sf.layout.id}:{chk.file}"
        if other not in alive.staged:
            continue
        members = alive.rows(other, [chk.via, chk.item]).filter(pl.col(chk.item) == chk.value)
        counts = members.group_by(chk.via).agg(pl.len().alias("__n"))
        key = sf.file.key[0]
        rows = alive.rows(name, [key]).join(counts, left_on=key, right_on=chk.via, how="left")
        bad = rows.filter(pl.col("__n").fill_null(0) != 1)
        out.append(
            bad.select(
                *ROW_ID,
                pl.lit(chk.id).alias("rule"),
                pl.lit(chk.item).alias("item"),
                (
                    pl.lit(chk.message + ": ") + pl.col("__n").fill_null(0).cast(pl.String) + pl.lit("件")
                ).alias("message"),
            )
        )
    return pl.concat(out) if out else pl.DataFrame(schema=_SCHEMA)


def check_run(staged: dict[str, StagedFile]) -> CrossResult:
    """Apply key uniqueness once, then references and exactly-one rules until nothing more is rejected."""
    rejected = {name: _key_rejects(sf).cast(_SCHEMA) for name, sf in staged.items()}  # type: ignore[arg-type]
    alive = _Alive(staged, rejected)
    unchecked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name in staged:
            new = pl.concat(
                [_reference_rejects(alive, name, unchecked), _exactly_one_rejects(alive, name)]
            ).cast(_SCHEMA)  # type: ignore[arg-type]
            new = new.join(rejected[name].select(ROW_ID), on=ROW_ID, how="anti").unique(
                ROW_ID, keep="first", maintain_order=True
            )
            if new.height:
                rejected[name] = pl.concat([rejected[name], new])
                changed = True
    return CrossResult(rejected, sorted(unchecked))
