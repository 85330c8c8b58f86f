"""Atomic output: temporary files in the target directory, moved into place only when all are complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self


class AtomicFiles:
    """Write several files by id; on success each is renamed over its final name, on error all are removed."""

    def __init__(self, out_dir: Path, names: dict[str, str]) -> None:
        self.out_dir = Path(out_dir)
        self.paths = {fid: self.out_dir / name for fid, name in names.items()}
        self._tmp: dict[str, tuple[Path, BinaryIO]] = {}

    def __enter__(self) -> Self:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for fid, path in self.paths.items():
            fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=f".{path.name}.", suffix=".part")
            self._tmp[fid] = (Path(tmp), os.fdopen(fd, "wb"))
        return self

    def write(self, fid: str, data: bytes) -> None:
        """Append bytes to the file `fid`."""
        self._tmp[fid][1].write(data)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for tmp, fh in self._tmp.values():
            if exc_type is None:
                fh.flush()
                os.fsync(fh.fileno())
            fh.close()
            if exc_type is not None:
                tmp.unlink(missing_ok=True)
        if exc_type is None:
            for fid, (tmp, _) in self._tmp.items():
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.paths[fid])
