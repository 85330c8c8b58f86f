"""Readers cut vendor extracts into batches of decoded fields, with provenance and raw bytes kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from midlayout.layout.source import SourceFile


@dataclass
class Batch:
    """Decoded rows (source fields + provenance) and the rows rejected while reading them."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    records_read: int
    bytes_read: int


def read_batches(source: SourceFile, path: Path, batch_size: int = 100_000) -> Iterator[Batch]:
    """Dispatch on the source format; every record read lands in `rows` or `rejects`, never both."""
    if source.format == "fixed":
        from midlayout.readers.fixed import read_fixed

        return read_fixed(source, path, batch_size)
    from midlayout.readers.csv import read_csv

    return read_csv(source, path, batch_size)
