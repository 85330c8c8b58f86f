"""The writers of a run as one unit: built and checked once, then start → write → prepare → commit, or abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from midlayout.pipeline.faults import fault
from midlayout.pipeline.runid import writer_load_id
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

    def open(self, run_id: str) -> dict[str, str]:
        """Build every writer for the run `run_id`, each with its load id (the run identity and its content
        options; pipeline/runid.py); if one fails, those already built are aborted. Returns the load ids."""
        self.writers = []
        try:
            for name, cls in zip(self.names, self.classes, strict=True):
                opts = self.options.get(name, {})
                load_id = writer_load_id(run_id, name, opts, cls.CONNECTION_OPTIONS)
                self.writers.append(cls(self.out_dir, opts, load_id))
        except BaseException:
            self.abort()
            raise
        return {w.name: w.load_id for w in self.writers}

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

    def commit_files(self) -> list[Output]:
        """Prepare every file writer (everything that can fail, in all of them), then commit each: its files
        get their final names inside the new output set, which is not yet in the output folder."""
        files = [w for w in self.writers if not w.DATABASE]
        for w in files:
            w.prepare()
        outputs: list[Output] = []
        for w in files:
            outputs += w.commit()
            fault(f"commit:{w.name}")
        return outputs

    def commit_databases(self) -> list[Output]:
        """Once every file is built: prepare every database (all that can fail), then commit each."""
        dbs = [w for w in self.writers if w.DATABASE]
        for w in dbs:
            w.prepare()
            fault(f"prepare:{w.name}")
        outputs: list[Output] = []
        for w in dbs:
            outputs += w.commit()
            fault(f"commit:{w.name}")
        return outputs

    def abort(self) -> None:
        for w in self.writers:
            w.abort()
        self.writers = []
