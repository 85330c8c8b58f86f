"""Portable paths in manifests: a bundled definition file as `package:layouts/…`, anything else relative to the
manifest's folder, so that a delivery copied to another folder or machine still verifies.

>>> portable_reference(Path("samples/a.csv"), Path("out/run"))
'../../samples/a.csv'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from midlayout.layout.bundled import PACKAGE_PREFIX as PACKAGE
from midlayout.layout.bundled import bundled_layouts, resolve_ref


def bundled_layouts_dirs() -> list[Path]:
    """The folder of the layouts shipped with midlayout (package data; in a checkout a link to `layouts/`)."""
    root = bundled_layouts()
    return [root] if root.is_dir() else []


def package_reference(path: Path) -> str | None:
    """`package:layouts/<rel>` when `path` lies inside the bundled layouts, else None.

    Only the bundled layouts (and their code tables) become package references: a vendor's mapping folder is
    the user's own, recorded relative to the manifest, even where the package ships a copy for `synth`.
    """
    real = path.resolve()
    for root in bundled_layouts_dirs():
        root = root.resolve()
        if real.is_relative_to(root):
            return f"{PACKAGE}layouts/{real.relative_to(root).as_posix()}"
    return None


def portable_reference(path: str | Path, folder: Path) -> str:
    """How a manifest in `folder` records `path`: a package reference for a bundled file, else a relative path.

    The relative path uses `/` and may climb out of `folder` with `..` (an input beside the output folder).
    """
    p = Path(path)
    package = package_reference(p)
    if package:
        return package
    return Path(os.path.relpath(p.absolute(), folder.absolute())).as_posix()


def resolve_reference(ref: str, folder: Path) -> Path:
    """The file a manifest's reference names: `package:…` in this installation, a relative path from `folder`."""
    if ref.startswith(PACKAGE):
        return resolve_ref(ref)
    p = Path(ref)
    return p if p.is_absolute() else Path(os.path.normpath(folder / p))


def is_package_reference(ref: str) -> bool:
    return ref.startswith(PACKAGE)


_FILE_SECTIONS = ("definitions", "layouts", "mappings", "inputs", "outputs")


def portable_manifest(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A manifest (as data) with every file path made portable for a manifest written into `folder`.

    Each entry keeps the absolute path at run time as `absolute_path` (information only; nothing reads it).
    An input also keeps `file`, the name it was given on the command line, which is how `rejects.file`
    names it. Entries that are not files (a database output has no sha256) are left as they are.
    """
    out = dict(data)
    for section in _FILE_SECTIONS:
        entries = []
        for entry in data.get(section, []):
            entry = dict(entry)
            path = entry.get("path")
            if path and entry.get("sha256") and not str(path).startswith(PACKAGE):
                if section == "inputs":
                    entry["file"] = str(path)
                entry["path"] = portable_reference(path, folder)
                entry["absolute_path"] = str(Path(path).absolute())
            entries.append(entry)
        out[section] = entries
    tables = (data.get("text") or {}).get("gaiji", {}).get("tables")
    if tables:
        text = dict(data["text"])
        gaiji = dict(text["gaiji"])
        gaiji["tables"] = {
            m: (
                {
                    **t,
                    "path": portable_reference(t["path"], folder),
                    "absolute_path": str(Path(t["path"]).absolute()),
                }
                if t and t.get("path")
                else t
            )
            for m, t in tables.items()
        }
        text["gaiji"] = gaiji
        out["text"] = text
    return out
