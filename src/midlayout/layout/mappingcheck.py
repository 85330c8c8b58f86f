"""`mapping check`: what of a mapping breaks, or leaves unmapped, against another version of its layout.

Moving a vendor's mapping from V2.4 to V2.5 becomes a checklist, each entry at a line of the mapping:
`break` (the mapping would not load, or would write codes the new table lacks), `check` (it loads, but
look: a 桁数 that shrank, a changed type), `note` (a file of the new layout the mapping does not feed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midlayout.layout.mapping import FileMapping, Mapping, load_mapping
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.layout.registry import resolve
from midlayout.layout.yamlfile import Doc, load_yaml


@dataclass
class MappingCheck:
    """The findings, in mapping order; `ok` when nothing breaks."""

    mapping: str
    layout: str
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f["severity"] == "break" for f in self.findings)

    def add(self, doc: Doc, at: tuple[str | int, ...], severity: str, message: str, **where: str) -> None:
        self.findings.append({"line": doc.line(at), "severity": severity, **where, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {"mapping": self.mapping, "layout": self.layout, "ok": self.ok, "findings": self.findings}

    def lines(self) -> list[str]:
        return [f"{self.mapping}:{f['line']}: {f['severity']}: {f['message']}" for f in self.findings]


def _item_checks(
    out: MappingCheck, doc: Doc, mapping: Mapping, fm: FileMapping, old: FileDef, new: FileDef, layout: Layout
) -> None:
    for rule in fm.items:
        at = ("files", fm.target, "items", rule.item)
        where = {"file": fm.target, "item": rule.item}
        if rule.item not in new.item_ids:
            out.add(doc, at, "break", f"{fm.target}.{rule.item} is not an item of {layout.ref}", **where)
            continue
        a, b = old.item(rule.item), new.item(rule.item)
        if a.type != b.type:
            out.add(doc, at, "break", f"{b.name}: type {a.type} → {b.type}; rewrite its ops", **where)
        elif (a.unit, a.scale) != (b.unit, b.scale) or b.length < a.length:
            out.add(doc, at, "check", f"{b.name}: 桁数 {a.length} {a.unit} → {b.length} {b.unit}", **where)
        _code_checks(out, doc, mapping, rule.ops, at, b, layout, where)


def _code_checks(
    out: MappingCheck,
    doc: Doc,
    mapping: Mapping,
    ops: tuple[Any, ...],
    at: tuple[str | int, ...],
    item: Item,
    layout: Layout,
    where: dict[str, str],
) -> None:
    if item.type != "code" or item.code_table is None:
        return
    table = layout.code_tables[item.code_table]
    for op in ops:
        if op.name != "code":
            continue
        missing = sorted({v for v in mapping.code_maps[op.args].map.values() if v not in table.codes})
        if missing:
            out.add(
                doc,
                at,
                "break",
                f"{item.name}: code map {op.args} writes {', '.join(missing)}, not codes of {table.name}",
                **where,
            )


def check_mapping(path: Path, ref: str, layouts_root: Path | None = None) -> MappingCheck:
    """Check the mapping at `path` (loaded against its own target) against layout `ref`."""
    mapping = load_mapping(path, layouts_root)
    layout = resolve(ref, layouts_root)
    doc = load_yaml(path)
    out = MappingCheck(str(path), layout.ref)
    files = doc.data.get("files") or {}
    for fm in mapping.files:
        if fm.target not in [f.id for f in layout.files]:
            out.add(
                doc, ("files", fm.target), "break", f"{layout.ref} has no file {fm.target}", file=fm.target
            )
            continue
        old, new = mapping.target.file(fm.target), layout.file(fm.target)
        _item_checks(out, doc, mapping, fm, old, new, layout)
        empty = [str(v) for v in (files.get(fm.target) or {}).get("leave_empty") or []]
        for i, item_id in enumerate(empty):
            if item_id not in new.item_ids:
                at = ("files", fm.target, "leave_empty", i)
                out.add(
                    doc,
                    at,
                    "break",
                    f"leave_empty names {item_id}, not an item of {layout.ref}",
                    file=fm.target,
                )
        mapped = {r.item for r in fm.items} | set(empty)
        for it in new.items:
            if it.id in mapped:
                continue
            kind = "required item" if it.required else "item"
            out.add(
                doc,
                ("files", fm.target, "items"),
                "break",
                f"new {kind} {fm.target}.{it.id} {it.name} is unmapped: map it"
                + ("" if it.required else " or list it under leave_empty"),
                file=fm.target,
                item=it.id,
            )
    fed = {fm.target for fm in mapping.files}
    for f in layout.files:
        if f.id not in fed:
            out.add(
                doc, ("files",), "note", f"file {f.id} {f.name} of {layout.ref} is not fed by this mapping"
            )
    return out
