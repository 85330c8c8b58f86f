"""Portable paths in manifests: a bundled definition file as `package:layouts/…`, anything else relative to the
manifest's folder, so that a delivery copied to another folder or machine still verifies.

>>> portable_ref(Path("samples/a.csv"), Path("out/run"))
'../../samples/a.csv'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from midlayout.layout.bundled import is_package_ref, portable_ref

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
            if path and entry.get("sha256") and not is_package_ref(str(path)):
                if section == "inputs":
                    entry["file"] = str(path)
                entry["path"] = portable_ref(path, folder)
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
                    "path": portable_ref(t["path"], folder),
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
