"""The writer interface and the registry of built-in writers."""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import polars as pl

from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Layout
from midlayout.layout.standard import sha256_file


@dataclass(frozen=True)
class Output:
    """One finished output: what the manifest records."""

    writer: str
    path: str
    target: str
    rows: int
    sha256: str


class Writer(ABC):
    """Receives batches per layout file and makes them visible only on `commit`.

    Subclasses implement `write` (called once per batch, possibly zero times for a file) and `_finish`,
    which returns the temp paths to rename. Nothing is visible under its final name before `commit`.
    """

    name: ClassVar[str]

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.rows: dict[tuple[str, str], int] = {}
        self._temps: list[Path] = []

    def temp_for(self, final: Path) -> Path:
        """A temp path beside `final`, remembered for abort; never the final name."""
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        self._temps.append(temp)
        return temp

    def count(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        key = (layout.ref, file.id)
        self.rows[key] = self.rows.get(key, 0) + batch.height

    @abstractmethod
    def start(self, layout: Layout, file: FileDef) -> None:
        """Prepare the output of one file (called even when it will receive no rows)."""

    @abstractmethod
    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        """Append a batch of rows in the layout (columns = item ids, typed)."""

    @abstractmethod
    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        """Close everything; return (temp, final, target, rows) for each output."""

    def commit(self) -> list[Output]:
        """Rename every temp output to its final name and report them."""
        outputs = []
        for temp, final, target, rows in self._finish():
            os.replace(temp, final)
            outputs.append(Output(self.name, str(final), target, rows, sha256_file(final)))
        self._temps.clear()
        return outputs

    def abort(self) -> None:
        """Remove temp files; finals were never touched."""
        for temp in self._temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def _builtins() -> dict[str, type[Writer]]:
    from midlayout.writers.duckdb import DuckDBWriter
    from midlayout.writers.parquet import ParquetWriter
    from midlayout.writers.standard import StandardCsvWriter

    return {w.name: w for w in (StandardCsvWriter, ParquetWriter, DuckDBWriter)}


def available() -> dict[str, type[Writer]]:
    """Writers by name."""
    return _builtins()


def get_writer(name: str) -> type[Writer]:
    """The writer class called `name`; UsageError listing the known ones otherwise."""
    writers = available()
    if name not in writers:
        raise UsageError(f"unknown writer {name!r} (known: {', '.join(sorted(writers))})")
    return writers[name]
