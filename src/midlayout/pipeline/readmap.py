"""The one read → map → type path: each planned batch of an input is read (decoded, checked), then mapped
and typed into its target layout file. `convert`'s batches, lookup tables, `audit reconcile`'s re-read of a
run and `audit`'s reading of a standard delivery all go through `read_mapped`, so they read a value alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Lookup
from midlayout.layout.source import SourceFile
from midlayout.mapping.compile import CompiledFile, apply
from midlayout.readers import DEFAULT_BATCH_SIZE, Batch, plan_batches, read_piece
from midlayout.readers.csv import field_offsets
from midlayout.readers.gaiji import GaijiSpec, spec_for
from midlayout.rejects import empty_rejects

Tables = dict[Lookup, pl.DataFrame] | Callable[[pl.DataFrame], dict[Lookup, pl.DataFrame]]


@dataclass
class MappedBatch:
    """One batch: as read (source fields, decode rejects, 外字 occurrences, counts) and as mapped (rows in the
    target layout with provenance, and map rejects; empty when no mapping was given)."""

    read: Batch
    rows: pl.DataFrame
    rejects: pl.DataFrame

    @property
    def all_rejects(self) -> pl.DataFrame:
        """Decode rejects, then map rejects."""
        return pl.concat([self.read.rejects, self.rejects])


def read_mapped(
    source: SourceFile,
    path: Path,
    spec: GaijiSpec,
    compiled: CompiledFile | None,
    tables: Tables | None = None,
    pieces: Iterable[object] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[MappedBatch]:
    """Read each planned piece of `path` (all of them unless `pieces` are given), then map and type it with
    `compiled` (None: read only). `tables` are the lookup tables, or a function of the batch's source rows
    that gives them (a large table is filtered to the keys a batch can match)."""
    for piece in pieces if pieces is not None else plan_batches(source, path, batch_size):
        batch = read_piece(source, path, piece, spec)
        if compiled is None:
            yield MappedBatch(batch, batch.rows, empty_rejects())
            continue
        found = tables(batch.rows) if callable(tables) else tables or {}
        rows, rejects = apply(compiled, batch.rows, found)
        header = getattr(piece, "header", None)  # a CSV piece (or the reference reader's, in tests)
        if source.format == "csv" and header is not None:  # field offsets vary per record: find them
            rejects = field_offsets(rejects, source, list(header))
        yield MappedBatch(batch, rows, rejects)


def read_input(
    source: SourceFile,
    path: Path,
    gaiji: GaijiOptions | None,
    compiled: CompiledFile | None,
    tables: Tables | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[MappedBatch]:
    """`read_mapped` over a whole input, with the 外字 options of its mapping or run."""
    return read_mapped(source, path, spec_for(source, gaiji), compiled, tables, batch_size=batch_size)
