"""An identity mapping over a standard layout, so a delivery already in the layout is read and checked
by the same pipeline as a conversion (`midlayout validate`)."""

from __future__ import annotations

from pathlib import Path

from midlayout.errors import InputError, Location
from midlayout.layout.mapping import FileMapping, ItemRule, Mapping
from midlayout.layout.model import Layout
from midlayout.layout.standard_source import standard_source


def identity_mapping(layout: Layout) -> Mapping:
    """Standard CSV files (header of 項目名称, layout encoding) mapped onto themselves."""
    rules = []
    for f in layout.files:
        items = tuple(ItemRule(it.id, "from", fields=(it.id,)) for it in f.items)
        rules.append(FileMapping(f.id, f.id, items))
    source = standard_source(layout)
    return Mapping(
        f"identity:{layout.ref}",
        layout.version,
        layout,
        source,
        tuple(rules),
        {},
        {},
        layout.path,
        layout.sha256,
    )


def only_files(mapping: Mapping, file_ids: set[str]) -> Mapping:
    """The same mapping restricted to the given target files."""
    from dataclasses import replace

    return replace(mapping, files=tuple(r for r in mapping.files if r.target in file_ids))


def files_for_inputs(layout: Layout, inputs: list[str]) -> set[str]:
    """Which layout files the inputs are (by `FILE=PATH` or by the file name `<file>*.csv`)."""
    ids = set()
    for arg in inputs:
        named = "=" in arg and not Path(arg).exists()
        path = Path(arg.split("=", 1)[1] if named else arg)
        if not path.is_file():
            raise InputError("input file not found", Location(file=str(path)))
        name = arg.split("=", 1)[0] if named else path.name
        ids |= {f.id for f in layout.files if name == f.id or name.startswith(f.id)}
    return ids
