"""Find standard layouts by ID@VERSION (for example `chukan/juki@2.5`) along the layout search path.

The search path is: the `--layouts-dir` folders (in the order given), then the folders of
`$MIDLAYOUT_LAYOUTS` (an `os.pathsep`-separated list), then the layouts bundled with the package. The same
ID@VERSION in two of the folders a user gave is an error naming both (one file reached through two folders is
one place); a user's layout with the ID@VERSION of a bundled one is used instead of it (searched first), and
`layouts list` and the manifest say which file it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from midlayout.errors import UsageError
from midlayout.layout.bundled import bundled_layouts
from midlayout.layout.model import Layout
from midlayout.layout.standard import load_layout

ENV = "MIDLAYOUT_LAYOUTS"
_DIRS: ContextVar[tuple[Path, ...]] = ContextVar("midlayout_layouts_dirs", default=())


@contextmanager
def layouts_dirs(dirs: Sequence[Path] | None) -> Iterator[None]:
    """Search `dirs` (a command's `--layouts-dir` options) first while the block runs."""
    token = _DIRS.set(tuple(Path(d) for d in dirs or ()))
    try:
        yield
    finally:
        _DIRS.reset(token)


@dataclass(frozen=True)
class LayoutRoot:
    """One folder of the search path and where it came from (`--layouts-dir`, `MIDLAYOUT_LAYOUTS`, `bundled`)."""

    path: Path
    origin: str


def search_path(root: Path | Sequence[Path] | None = None) -> list[LayoutRoot]:
    """The folders searched for layouts, first to last; `root` adds folders before the rest."""
    given = [root] if isinstance(root, Path | str) else list(root or [])
    roots = [LayoutRoot(Path(p), "--layouts-dir") for p in [*given, *_DIRS.get()]]
    env = os.environ.get(ENV, "")
    roots += [LayoutRoot(Path(p), ENV) for p in env.split(os.pathsep) if p]
    for r in roots:
        if not r.path.is_dir():
            raise UsageError(f"{r.origin} names {r.path}, which is not a folder")
    return [*roots, LayoutRoot(bundled_layouts(), "bundled")]


@dataclass(frozen=True)
class LayoutEntry:
    """A layout file found on disk, not yet loaded."""

    id: str
    version: str
    path: Path
    origin: str = "bundled"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


def load_entry(entry: LayoutEntry) -> Layout:
    """Load a layout found on the search path; its header must name the ID@VERSION its place names."""
    family, gyomu = entry.id.split("/", 1)
    return load_layout(entry.path, (family, gyomu, entry.version))


def _normalise_version(version: str) -> str:
    return version[1:] if version[:1] in "vV" else version


def _found(root: Path | Sequence[Path] | None) -> dict[str, list[LayoutEntry]]:
    """Every `FAMILY/GYOMU/VERSION.yaml` along the search path, by ref (one entry per distinct file)."""
    by_ref: dict[str, list[LayoutEntry]] = {}
    seen: set[Path] = set()
    for r in search_path(root):
        for path in sorted(r.path.glob("*/*/*.yaml")):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            entry = LayoutEntry(f"{path.parent.parent.name}/{path.parent.name}", path.stem, path, r.origin)
            by_ref.setdefault(entry.ref, []).append(entry)
    return by_ref


def _one(ref: str, entries: list[LayoutEntry]) -> LayoutEntry:
    if any(e.origin != "bundled" for e in entries):
        entries = [e for e in entries if e.origin != "bundled"]
    if len(entries) > 1:
        places = " and ".join(f"{e.path} ({e.origin})" for e in entries)
        raise UsageError(f"layout {ref} is defined in two places: {places}; remove or rename one")
    return entries[0]


def list_layouts(root: Path | Sequence[Path] | None = None) -> list[LayoutEntry]:
    """Every layout on the search path, sorted by ref; a UsageError when none is found or one is defined twice."""
    found = _found(root)
    if not found:
        searched = ", ".join(f"{r.path} ({r.origin})" for r in search_path(root))
        raise UsageError(f"no layouts found (searched: {searched}); give --layouts-dir or set {ENV}")
    return [_one(ref, found[ref]) for ref in sorted(found)]


def resolve(ref: str, root: Path | Sequence[Path] | None = None) -> Layout:
    """Load the layout named `ID@VERSION`; a UsageError lists what exists when it is not found."""
    if "@" not in ref:
        raise UsageError(f"layout {ref!r}: write it as ID@VERSION, for example chukan/juki@2.5")
    layout_id, version = ref.split("@", 1)
    found = _found(root)
    entries = found.get(f"{layout_id}@{_normalise_version(version)}")
    if entries:
        return load_entry(_one(ref, entries))
    known = ", ".join(sorted(found)) or "none"
    raise UsageError(f"unknown layout {ref!r} (known: {known})")
