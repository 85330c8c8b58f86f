"""Find standard layouts on disk by ID@VERSION (for example `chukan/juki@2.5`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from midlayout.errors import UsageError
from midlayout.layout.model import Layout
from midlayout.layout.standard import load_layout


def default_layouts_dir() -> Path:
    """`$MIDLAYOUT_LAYOUTS`, else `./layouts`, else the `layouts/` folder of this checkout."""
    env = os.environ.get("MIDLAYOUT_LAYOUTS")
    if env:
        return Path(env)
    here = Path.cwd() / "layouts"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "layouts"


@dataclass(frozen=True)
class LayoutEntry:
    """A layout file found on disk, not yet loaded."""

    id: str
    version: str
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


def _normalise_version(version: str) -> str:
    return version[1:] if version[:1] in "vV" else version


def list_layouts(root: Path | None = None) -> list[LayoutEntry]:
    """Every `FAMILY/GYOMU/VERSION.yaml` under `root`, sorted."""
    root = root or default_layouts_dir()
    found = []
    for path in sorted(root.glob("*/*/*.yaml")):
        found.append(LayoutEntry(f"{path.parent.parent.name}/{path.parent.name}", path.stem, path))
    return found


def resolve(ref: str, root: Path | None = None) -> Layout:
    """Load the layout named `ID@VERSION`; a UsageError lists what exists when it is not found."""
    if "@" not in ref:
        raise UsageError(f"layout {ref!r}: write it as ID@VERSION, for example chukan/juki@2.5")
    layout_id, version = ref.split("@", 1)
    entries = list_layouts(root)
    for entry in entries:
        if entry.id == layout_id and entry.version == _normalise_version(version):
            return load_layout(entry.path)
    known = ", ".join(e.ref for e in entries) or "none"
    raise UsageError(f"unknown layout {ref!r} (known: {known})")
