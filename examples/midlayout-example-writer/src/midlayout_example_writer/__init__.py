"""An example midlayout writer plugin: each layout file as JSON lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from midlayout.layout.model import FileDef, Layout
from midlayout.writers import StreamFileWriter

__all__ = ["JsonLinesWriter"]


class JsonLinesWriter(StreamFileWriter):
    """`jsonl/<gyomu>/<file>.jsonl`: one JSON object per row, keys = item ids.

    `StreamFileWriter` does the file handling (one temp file per layout file, renamed only on commit);
    a writer of one file per layout file only says how a batch becomes bytes.
    """

    name = "example"
    suffix = ".jsonl"
    OPTIONS: ClassVar[dict[str, str]] = {"folder": "output folder name under --out (default jsonl)"}

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        self.folder = str(self.options.get("folder", "jsonl"))  # type: ignore[misc]

    def encode(self, layout: Layout, file: FileDef, batch: pl.DataFrame, first_record: int) -> bytes:
        return batch.select(file.item_ids).write_ndjson().encode("utf-8")
