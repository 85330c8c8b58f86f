"""An example midlayout writer plugin: each layout file as JSON lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.writers import Writer

__all__ = ["JsonLinesWriter"]


class JsonLinesWriter(Writer):
    """`jsonl/<gyomu>/<file>.jsonl`: one JSON object per row, keys = item ids."""

    name = "example"
    OPTIONS: ClassVar[dict[str, str]] = {"folder": "output folder name under --out (default jsonl)"}

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        self.folder = str(self.options.get("folder", "jsonl"))
        self._open: dict[tuple[str, str], tuple[Path, Path, BinaryIO]] = {}

    def start(self, layout: Layout, file: FileDef) -> None:
        final = self.out_dir / self.folder / layout.gyomu / f"{file.id}.jsonl"
        temp = self.temp_for(final)  # nothing appears under the final name before commit
        self._open[(layout.ref, file.id)] = (temp, final, temp.open("wb"))
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        self._open[(layout.ref, file.id)][2].write(batch.select(file.item_ids).write_ndjson().encode("utf-8"))
        self.count(layout, file, batch)

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        done = []
        for (ref, file_id), (temp, final, fh) in self._open.items():
            fh.close()
            done.append((temp, final, f"{ref}:{file_id}", self.rows[(ref, file_id)]))
        return done

    def abort(self) -> None:
        for _, _, fh in self._open.values():
            fh.close()
        super().abort()
