"""The writer interface every output target implements, built-in or plugin."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import polars as pl

from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Layout
from midlayout.layout.standard import sha256_file


@dataclass(frozen=True)
class Output:
    """One finished output: what the manifest records.

    `path` is a file or folder for file writers, a connection without password for databases; `sha256` is
    empty when the output is not a file. `details` holds writer-specific facts (mode, schema, load id, ...).
    """

    writer: str
    path: str
    target: str
    rows: int
    sha256: str
    details: dict[str, Any] = field(default_factory=dict)


def parse_bool(name: str, value: Any) -> bool:
    """An option that is true or false (YAML booleans, or the strings true/false/1/0 from the command line)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise UsageError(f"writer option {name}: expected true or false, got {value!r}")


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder as the sorted list of its files' relative paths and sha256s."""
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for part in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{part.relative_to(path).as_posix()} {sha256_file(part)}\n".encode())
    return h.hexdigest()


def install(temp: Path, final: Path) -> None:
    """Move `temp` (file or folder) to `final`, replacing what was there; a folder is swapped by two renames."""
    if temp.is_dir():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        os.replace(temp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, final)


class Writer(ABC):
    """Receives batches per layout file and makes them visible only on `commit`.

    The pipeline calls, in order: `start` for every target file (even one that will get no rows), `write`
    for each batch of valid rows, then `prepare` on every writer of the run and `commit` on every writer, or
    `abort` on every writer if anything failed. Nothing may be visible under its final name (or in a
    target database) before `commit`.

    File writers implement `start`, `write` and `_finish` (which returns the temp paths to rename) and use
    `temp_for`; the base class does the renames. A writer that is not file based overrides `prepare`,
    `commit` and `abort` instead. `OPTIONS` documents the options the writer accepts (name → help); any
    other option is a usage error. `load_id` identifies the run's data (inputs, mappings and layouts).

    A writer with `STREAMING` set gets each batch as soon as it is read, while the run is still reading:
    it is built before the run identity is known (`load_id` is set before `prepare`, so it must not be
    used earlier), and `start` for a file it already started drops everything written for that file and
    begins it anew (the pipeline does so when the cross-file rules reject rows of that file). A writer
    without it gets every file once, after the cross-file rules.
    """

    name: ClassVar[str]
    OPTIONS: ClassVar[dict[str, str]] = {}
    # A database commits before the run's file set is swapped in (docs/run-integrity.md); a file writer's
    # outputs are part of that set. Options that only say where to connect are left out of the load id.
    DATABASE: ClassVar[bool] = False
    CONNECTION_OPTIONS: ClassVar[frozenset[str]] = frozenset()
    STREAMING: ClassVar[bool] = False

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        self.out_dir = out_dir
        self.options = dict(options or {})
        self.load_id = load_id
        unknown = sorted(set(self.options) - set(self.OPTIONS))
        if unknown:
            known = ", ".join(sorted(self.OPTIONS)) or "none"
            raise UsageError(f"writer {self.name}: unknown option {unknown[0]!r} (known: {known})")
        self.rows: dict[tuple[str, str], int] = {}
        self._temps: list[Path] = []
        self._prepared: list[tuple[Path, Path, str, int]] | None = None
        self._digests: dict[Path, str] = {}  # temp output → its sha256, once known (hashed as written)

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

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        """Close everything; return (temp, final, target, rows) for each output (file writers)."""
        raise NotImplementedError(f"writer {self.name} implements neither _finish nor prepare/commit")

    def prepare(self) -> None:
        """Do all the work that can fail, short of making outputs visible (phase one of the commit), and
        hash each output not hashed as it was written (the bytes do not change when `commit` renames it)."""
        if self._prepared is None:
            prepared = self._finish()
            for temp, *_ in prepared:
                if temp not in self._digests:
                    self._digests[temp] = sha256_path(temp)
            self._prepared = prepared

    def commit(self) -> list[Output]:
        """Rename every temp output to its final name and report them."""
        self.prepare()
        outputs = []
        for temp, final, target, rows in self._prepared or []:
            install(temp, final)
            outputs.append(Output(self.name, str(final), target, rows, self._digests[temp]))
        self._temps.clear()
        return outputs

    def abort(self) -> None:
        """Remove temp files and folders; finals were never touched."""
        for temp in self._temps:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


class StreamFileWriter(Writer):
    """A writer of one file per layout file (`<folder>/<gyomu>/<file><suffix>`), streamed batch by batch.

    Subclasses set `folder` and `suffix` and implement `encode`; `header` is optional. It streams: `start`
    again for a file truncates that file's temp output and writes its header anew. Each file's sha256 is
    taken from the bytes as they are written, so the file is not read again to hash it.
    """

    folder: ClassVar[str]
    suffix: ClassVar[str]
    STREAMING: ClassVar[bool] = True

    def __init__(self, out_dir: Path, options: Mapping[str, Any] | None = None, load_id: str = "") -> None:
        super().__init__(out_dir, options, load_id)
        self._open: dict[tuple[str, str], tuple[Path, Path, BinaryIO]] = {}
        self._hashes: dict[tuple[str, str], Any] = {}  # per open file: sha256 of what was written to it

    def header(self, layout: Layout, file: FileDef) -> bytes:
        """Bytes written before the first record (none by default)."""
        return b""

    @abstractmethod
    def encode(self, layout: Layout, file: FileDef, batch: pl.DataFrame, first_record: int) -> bytes:
        """The bytes of a batch; `first_record` is the 1-based number of its first row in the file."""

    def start(self, layout: Layout, file: FileDef) -> None:
        again = self._open.get((layout.ref, file.id))
        if again is not None:  # started anew: the same temp, truncated
            again[2].close()
        final = self.out_dir / self.folder / layout.gyomu / f"{file.id}{self.suffix}"
        temp = again[0] if again is not None else self.temp_for(final)
        fh = temp.open("wb")
        head = self.header(layout, file)
        fh.write(head)
        self._open[(layout.ref, file.id)] = (temp, final, fh)
        self._hashes[(layout.ref, file.id)] = hashlib.sha256(head)
        self.rows[(layout.ref, file.id)] = 0

    def write(self, layout: Layout, file: FileDef, batch: pl.DataFrame) -> None:
        first = self.rows[(layout.ref, file.id)] + 1
        data = self.encode(layout, file, batch, first)
        self._open[(layout.ref, file.id)][2].write(data)
        self._hashes[(layout.ref, file.id)].update(data)
        self.count(layout, file, batch)

    def _finish(self) -> list[tuple[Path, Path, str, int]]:
        done = []
        for (ref, file_id), (temp, final, fh) in self._open.items():
            fh.close()
            self._digests[temp] = self._hashes[(ref, file_id)].hexdigest()
            done.append((temp, final, f"{ref}:{file_id}", self.rows[(ref, file_id)]))
        return done

    def abort(self) -> None:
        for _, _, fh in self._open.values():
            fh.close()
        super().abort()
