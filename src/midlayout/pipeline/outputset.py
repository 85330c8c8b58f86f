"""The output set: what one run owns in an output folder, built apart and swapped in whole.

A run builds every file of its set under `<out>/.midlayout/next/` (the tool's own work folder, owner-only),
and only once all of them exist, and every database has committed, moves them into `<out>` with renames:
first the previous run's set (the files its manifest lists, and that manifest) is moved aside into
`<out>/.midlayout/prev/`, then the new files are moved in, then the caller writes the manifest, last. A
journal (`<out>/.midlayout/swap.json`) written before the first rename lets the next run into the folder
finish or undo a swap that was killed half-way: a reader never finds two runs mixed, nor a manifest that
does not describe the files beside it.

Ownership: the tool replaces or deletes only what a manifest of its own lists (plus that manifest and the
work folder). A different run identity into a folder holding another run's set, or a file of another origin
at a name the new set needs, is refused (exit 2) unless `overwrite`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midlayout import umask
from midlayout.errors import UsageError
from midlayout.pipeline.faults import fault
from midlayout.pipeline.lock import locked, work_dir
from midlayout.pipeline.manifest import write_atomic

MANIFEST = "manifest.json"
JOURNAL = "swap.json"
DEFAULT_OUTPUT_MODE = (
    0o640  # files; folders get x where r is set (0o750). Personal data: never world-readable.
)


def parse_output_mode(text: str | int) -> int:
    """`640` / `0o600` / 0o640 → the file mode of the outputs; UsageError unless an octal mode without x bits."""
    try:
        mode = text if isinstance(text, int) else int(str(text).removeprefix("0o"), 8)
    except ValueError:
        raise UsageError(f"--output-mode {text!r}: give an octal file mode such as 640 or 600") from None
    if mode < 0 or mode > 0o666 or mode & 0o111 or not mode & 0o400:
        raise UsageError(
            f"--output-mode {text!r}: give an octal file mode without execute bits that the owner can read "
            "(e.g. 640 or 600)"
        )
    return mode


def dir_mode(file_mode: int) -> int:
    """The folder mode that goes with a file mode: search (x) wherever read (r) is allowed."""
    return file_mode | ((file_mode & 0o444) >> 2) | 0o700


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders created meanwhile are owner-only (0600/0700): staging holds personal data. The
    umask is the process's: conversions in threads share it (midlayout/umask.py)."""
    with umask.private():
        yield


def apply_mode(path: Path, file_mode: int) -> None:
    """Set the output mode on a file, or on a folder and everything in it."""
    if path.is_dir():
        os.chmod(path, dir_mode(file_mode))
        for p in path.rglob("*"):
            os.chmod(p, dir_mode(file_mode) if p.is_dir() else file_mode)
    else:
        os.chmod(path, file_mode)


def _inside(out: Path, path: Path) -> str | None:
    """`path` relative to `out` (POSIX), or None when it is not strictly inside it."""
    try:
        rel = path.resolve().relative_to(out.resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts and rel.parts[0] != ".." else None


def owned_by(manifest: dict[str, Any], out: Path) -> list[str]:
    """The files a manifest says its run wrote into `out` (relative paths), the manifest excluded."""
    listed = manifest.get("output_set")
    if isinstance(listed, list):
        rels = [str(r) for r in listed]
    else:  # a manifest from before output sets: its file outputs
        rels = []
        for o in manifest.get("outputs", []):
            if isinstance(o, dict) and o.get("sha256") and o.get("path"):
                p = Path(str(o["path"]))
                rel = _inside(out, p if p.is_absolute() else out / p)
                if rel:
                    rels.append(rel)
    return sorted({r for r in rels if _inside(out, out / r) == r and r != MANIFEST})


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _prune(out: Path, rels: list[str]) -> None:
    """Remove folders that moving `rels` out left empty (never a folder that still holds anything)."""
    for rel in sorted(rels, key=lambda r: -r.count("/")):
        parent = (out / rel).parent
        while parent != out and out in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


@dataclass
class OutputSet:
    """One run's output set in `out`: open it under the folder's lock, build into `next`, then `swap`."""

    out: Path
    run_id: str
    overwrite: bool = False
    file_mode: int = DEFAULT_OUTPUT_MODE
    previous: list[str] = field(default_factory=list)
    _manifest: dict[str, Any] | None = None
    _foreign_manifest: bool = False

    @property
    def work(self) -> Path:
        return self.out / ".midlayout"

    @property
    def next(self) -> Path:
        """Where the new set is built (its files under their final relative names)."""
        return self.work / "next"

    @property
    def stage(self) -> Path:
        """Staged batches, lookups and spill: personal data, owner-only, deleted after every run."""
        return self.work / "stage"

    @property
    def prev(self) -> Path:
        return self.work / "prev"

    def open(self) -> None:
        """Finish or undo a killed swap, clear the work folder, and check the folder may take this run."""
        work_dir(self.out)
        recover(self.out)
        for leftover in (self.next, self.prev, self.stage):
            _remove(leftover)
        self.next.mkdir(mode=0o700)
        self.stage.mkdir(mode=0o700)
        manifest_path = self.out / MANIFEST
        self._manifest = _read(manifest_path) if manifest_path.exists() else None
        self._foreign_manifest = manifest_path.exists() and not (self._manifest or {}).get("run_id")
        self.previous = owned_by(self._manifest or {}, self.out)

    def precheck(self, definitions: list[dict[str, str]], options: dict[str, Any], inputs: list[Any]) -> None:
        """Before any work: refuse another run's folder already when its definitions, options or input sizes
        differ (then the run identities must differ); `claim` makes the exact check once the inputs are hashed."""
        m = self._manifest
        if self.overwrite or self._foreign_manifest or m is None:
            self.claim()
            return

        def sizes(records: list[Any]) -> list[tuple[str, str, int]]:
            return sorted((str(r["mapping"]), str(r["source"]), int(r["bytes"])) for r in records)

        try:
            same = (
                sorted((d["kind"], d["sha256"]) for d in m.get("definitions", []))
                == sorted((d["kind"], d["sha256"]) for d in definitions)
                and m.get("options") == options
                and sizes(m.get("inputs", [])) == sizes(inputs)
            )
        except (KeyError, TypeError, ValueError):
            same = False
        if not same:
            self.claim()

    def claim(self) -> None:
        """Refuse (exit 2) a folder holding another run's set, unless overwrite; same run identity: replace it."""
        manifest_path = self.out / MANIFEST
        if self.overwrite:
            return
        if self._foreign_manifest:
            raise UsageError(
                f"{manifest_path} is not a manifest of this midlayout version, so the folder holds "
                "another run's outputs; use --overwrite to replace them, or choose another --out"
            )
        if self._manifest is not None and self._manifest["run_id"] != self.run_id:
            raise UsageError(
                f"{self.out} holds another run's outputs (run {str(self._manifest['run_id'])[:12]}…: other inputs, "
                "definitions or options); use --overwrite to replace them, or choose another --out"
            )

    def names(self, paths: list[str]) -> list[str]:
        """The relative names in the new set of outputs at `paths` (files, or partition folders)."""
        rels = [_inside(self.next, Path(p)) for p in paths]
        return sorted({r for r in rels if r})

    def check_names(self, rels: list[str]) -> None:
        """Refuse (unless overwrite) to replace a file at a name of the new set that no manifest of ours lists."""
        owned = set(self.previous)
        foreign = [r for r in rels if (self.out / r).exists() and r not in owned]
        if foreign and not self.overwrite:
            raise UsageError(
                f"{self.out / foreign[0]} was not written by midlayout (no manifest in {self.out} lists it); "
                "use --overwrite to replace it, or choose another --out"
            )

    def swap(self, rels: list[str], manifest: bytes) -> None:
        """Move the previous set aside and the new one in, then the manifest (journaled; fsynced before)."""
        staged = self.work / MANIFEST
        write_atomic(staged, manifest)
        os.chmod(staged, self.file_mode)
        for rel in rels:
            apply_mode(self.next / rel, self.file_mode)
        old = sorted({*self.previous, *(r for r in rels if (self.out / r).exists()), MANIFEST})
        journal = {"run_id": self.run_id, "old": old, "new": rels}
        write_atomic(self.work / JOURNAL, json.dumps(journal).encode("utf-8"))
        fault("swap")
        for rel in old:
            if (self.out / rel).exists() or (self.out / rel).is_symlink():
                _move(self.out / rel, self.prev / rel)
        _prune(self.out, old)
        for i, rel in enumerate(rels):
            target = self.out / rel
            missing = [p for p in (target.parent, *target.parent.parents) if out_child(self.out, p)]
            _move(self.next / rel, target)
            for folder in missing:
                os.chmod(folder, dir_mode(self.file_mode))
            if i == 0:
                fault("swap:moved")
        fault("manifest")
        os.replace(staged, self.out / MANIFEST)  # the commit point: from here on the folder holds the new run
        fault("done")

    def finish(self) -> None:
        """After the manifest is written: the previous set and the journal go."""
        _remove(self.prev)
        (self.work / JOURNAL).unlink(missing_ok=True)
        self.discard()

    def discard(self) -> None:
        """Remove what this run built and staged (the previous set was not touched)."""
        for leftover in (self.next, self.stage):
            _remove(leftover)


def out_child(out: Path, folder: Path) -> bool:
    """`folder` is inside `out` and does not exist yet (the swap will create it)."""
    return out in folder.parents and not folder.exists()


def settle(out: Path) -> None:
    """Before reading a folder: finish or undo a swap a killed run left, if any (needs the folder's lock).

    Raises FolderBusy when a run holds the folder (it may be swapping right now)."""
    if not (out / ".midlayout" / JOURNAL).exists():
        return
    with locked(out):
        recover(out)


def recover(out: Path) -> None:
    """Finish a swap whose manifest was written, or undo one killed before: the folder holds one run again."""
    work = out / ".midlayout"
    path = work / JOURNAL
    if not path.exists():
        return
    journal = _read(path)
    if journal is None:  # torn before the swap began (it is written atomically): nothing was moved
        path.unlink()
        return
    manifest = _read(out / MANIFEST)
    done = manifest is not None and manifest.get("run_id") == journal.get("run_id")
    if not done:
        for rel in journal.get("new", []):
            if not (work / "next" / rel).exists():
                _remove(out / rel)  # it was moved in: ours, never the previous set's (that is under prev/)
        _prune(out, list(journal.get("new", [])))
        for rel in journal.get("old", []):
            if (work / "prev" / rel).exists():
                _move(work / "prev" / rel, out / rel)
    for leftover in ("next", "stage", "prev", MANIFEST):  # the stopped run's (personal data): not kept
        _remove(work / leftover)
    path.unlink()
