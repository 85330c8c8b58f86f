"""Readers cut vendor extracts into batches of decoded fields, with provenance and raw bytes kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from midlayout.layout.source import SourceFile

if TYPE_CHECKING:
    from midlayout.readers.gaiji import GaijiOptions


def _empty_gaiji() -> pl.DataFrame:
    from midlayout.readers.gaiji import empty_gaiji

    return empty_gaiji()


@dataclass
class Batch:
    """Decoded rows (source fields + provenance) and the rows rejected while reading them."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    records_read: int
    bytes_read: int
    gaiji: pl.DataFrame = field(default_factory=_empty_gaiji)  # every 外字 occurrence (readers/gaiji.py)


def read_batches(source: SourceFile, path: Path, batch_size: int = 100_000,
                 gaiji: GaijiOptions | None = None) -> Iterator[Batch]:
    """Dispatch on the source format; every record read lands in `rows` or `rejects`, never both.

    `gaiji` names the 外字 table and the policy for unmapped 外字 (default: no table, reject).
    """
    if source.format == "fixed":
        from midlayout.readers.fixed import read_fixed

        return read_fixed(source, path, batch_size, gaiji)
    from midlayout.readers.csv import read_csv

    return read_csv(source, path, batch_size, gaiji)
