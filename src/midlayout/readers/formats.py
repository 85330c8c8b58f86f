"""Reader formats by name: each plans the batches of a file on raw bytes and reads one planned batch.

`plan` is cheap and runs in the main process; `read` runs wherever the batch is handled (a worker
process, perhaps), so a piece is small plain data. Adding a format is one class and one entry here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from midlayout.layout.source import SourceFile

if TYPE_CHECKING:
    from midlayout.readers import Batch
    from midlayout.readers.gaiji import GaijiSpec


class ReaderFormat(Protocol):
    """How one source format is planned into batches and read."""

    def plan(self, source: SourceFile, path: Path, batch_size: int) -> Iterator[Any]: ...
    def read(self, source: SourceFile, path: Path, piece: Any, spec: GaijiSpec) -> Batch: ...


class FixedFormat:
    """Fixed-width records, cut by byte offset before decoding (readers/fixed.py)."""

    def plan(self, source: SourceFile, path: Path, batch_size: int) -> Iterator[Any]:
        from midlayout.readers.fixed import fixed_pieces

        return fixed_pieces(source, path, batch_size)

    def read(self, source: SourceFile, path: Path, piece: Any, spec: GaijiSpec) -> Batch:
        from midlayout.readers.fixed import read_fixed_piece

        return read_fixed_piece(source, path, piece, spec)


class CsvFormat:
    """Delimited records with quoting, found by a vectorised byte scan (readers/csv.py)."""

    def plan(self, source: SourceFile, path: Path, batch_size: int) -> Iterator[Any]:
        from midlayout.readers.csv import csv_pieces

        return csv_pieces(source, path, batch_size)

    def read(self, source: SourceFile, path: Path, piece: Any, spec: GaijiSpec) -> Batch:
        from midlayout.readers.csv import read_csv_piece

        return read_csv_piece(source, path, piece, spec)


FORMATS: dict[str, ReaderFormat] = {"fixed": FixedFormat(), "csv": CsvFormat()}


def reader_format(name: str) -> ReaderFormat:
    """The format called `name`, as the running conversion's kernels choose it (see midlayout.kernels)."""
    from midlayout import kernels

    return kernels.active().formats.get(name) or FORMATS[name]
