"""The writers of a run as one unit: built and checked once, then start → write → prepare → commit, or abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from midlayout.rejects import FILE, STAGED_PROVENANCE
from midlayout.validate.crossfile import ROW_ID, StagedFile
from midlayout.writers import Output, Writer, get_writer

NO_LOAD_ID = "0" * 64  # the writers' load id while only their options are checked


class WriterSession:
    """Every writer of a run. Nothing becomes visible before `commit`; `abort` undoes whatever was begun."""

    def __init__(self, names: tuple[str, ...], options: dict[str, dict[str, Any]], out_dir: Path) -> None:
        self.names, self.options, self.out_dir = names, options, out_dir
        self.classes = [get_writer(n) for n in names]
        self.writers: list[Writer] = []
        # Built once now, so that a bad option fails before any work. A writer may open a file or a
        # connection when built (the DuckDB writer connects in its constructor), so each is aborted at once;
        # `open` builds them again with the run's load id, which needs the inputs' sha256s.
        self.open(NO_LOAD_ID)
        self.abort()

    def open(self, load_id: str) -> None:
        """Build every writer for the load `load_id`; if one fails, those already built are aborted."""
        self.writers = []
        try:
            for name, cls in zip(self.names, self.classes, strict=True):
                self.writers.append(cls(self.out_dir, self.options.get(name, {}), load_id))
        except BaseException:
            self.abort()
            raise

    def write(self, staged: dict[str, StagedFile], rejected: dict[str, pl.DataFrame]) -> pl.DataFrame:
        """Stream each target's surviving rows to every writer; return written counts per input file."""
        counts = []
        for name, sf in staged.items():
            for w in self.writers:
                w.start(sf.layout, sf.file)
            drop = rejected[name].select(ROW_ID).lazy()
            for part in sf.parts:  # one part in memory at a time; the rejected ids are few
                good = pl.scan_parquet(part).join(drop, on=ROW_ID, how="anti").collect()
                counts.append(good.group_by(FILE).agg(pl.len().alias("n")))
                rows = good.drop(list(STAGED_PROVENANCE))
                for w in self.writers:
                    w.write(sf.layout, sf.file, rows)
        return (
            pl.concat(counts).group_by(FILE).agg(pl.col("n").sum())
            if counts
            else pl.DataFrame(schema={FILE: pl.String, "n": pl.UInt32})
        )

    def commit(self) -> list[Output]:
        """Prepare every writer (everything that can fail, in all of them), then commit every writer."""
        for w in self.writers:
            w.prepare()
        return [o for w in self.writers for o in w.commit()]

    def abort(self) -> None:
        for w in self.writers:
            w.abort()
        self.writers = []
