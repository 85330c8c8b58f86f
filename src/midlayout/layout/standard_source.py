"""A standard layout read as a source: its files as the CSV a delivery holds (how `validate` reads one).

A mapping whose `source:` names a standard layout (`source: {layout: chukan/juki@2.5}`) reads a delivery in
that layout, field ids being the item ids, to produce another standard layout's files (for example
中間標準レイアウト → 基本データリスト).
"""

from __future__ import annotations

from midlayout.layout.model import Layout
from midlayout.layout.source import SourceField, SourceFile, SourceLayout


def standard_source(layout: Layout) -> SourceLayout:
    """Standard CSV files (header of 項目名称, the layout's encoding, `<file>*.csv`) as source files."""
    files = []
    for f in layout.files:
        fields = tuple(SourceField(it.id, "text", column=it.name) for it in f.items)
        files.append(SourceFile(f.id, f.name, "csv", layout.encoding, f"{f.id}*.csv", fields))
    return SourceLayout("standard", layout.family_name, tuple(files), layout.path, layout.sha256)
