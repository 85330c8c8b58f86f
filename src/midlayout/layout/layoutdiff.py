"""`layouts diff`: what changed between two layouts (two versions of one 業務, usually).

Files and items added, removed and changed (名称, 型, 桁数, 必須, code table, reference), keys, checks and
cross-item rules, and code values added, removed or renamed per code table. Items are matched by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from midlayout.layout.model import FileDef, Item, Layout

_ITEM_ATTRS = ("name", "type", "length", "unit", "scale", "required", "code_table", "references")


def _item_summary(it: Item) -> str:
    size = f"{it.length},{it.scale}" if it.scale else str(it.length)
    return f"{it.name} ({it.type}, {size} {it.unit}{', required' if it.required else ''})"


def _attr(it: Item, attr: str) -> Any:
    value = getattr(it, attr)
    if attr == "references" and value is not None:
        return f"{value.file}.{value.item}"
    return value


@dataclass
class LayoutDiff:
    """Every difference, as data (the `--json` output) and as lines a person reads."""

    a: str
    b: str
    files: list[dict[str, Any]] = field(default_factory=list)
    code_tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.files and not self.code_tables

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "same": self.same,
            "files": self.files,
            "code_tables": self.code_tables,
        }

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            mark = {"added": "+", "removed": "-", "changed": "~"}[f["change"]]
            out.append(f"{mark} file {f['id']} {f['name']}")
            for ch in f.get("changes", []):
                out.append(f"    ~ {ch['what']}: {ch['a']} → {ch['b']}")
            for it in f.get("items", []):
                m = {"added": "+", "removed": "-", "changed": "~"}[it["change"]]
                if it["change"] == "changed":
                    detail = "; ".join(f"{k} {v['a']} → {v['b']}" for k, v in it["attrs"].items())
                    out.append(f"    {m} item {it['id']} {it['name']}: {detail}")
                else:
                    out.append(f"    {m} item {it['id']} {it['summary']}")
        for t in self.code_tables:
            mark = {"added": "+", "removed": "-", "changed": "~"}[t["change"]]
            out.append(f"{mark} code table {t['id']} {t['name']}")
            for code in t.get("added", []):
                out.append(f"    + {code['code']} {code['label']}")
            for code in t.get("removed", []):
                out.append(f"    - {code['code']} {code['label']}")
            for code in t.get("renamed", []):
                out.append(f"    ~ {code['code']} {code['a']} → {code['b']}")
        return out


def _file_diff(fa: FileDef, fb: FileDef) -> dict[str, Any] | None:
    changes = []
    if fa.name != fb.name:
        changes.append({"what": "name", "a": fa.name, "b": fb.name})
    if fa.key != fb.key:
        changes.append({"what": "key", "a": "+".join(fa.key), "b": "+".join(fb.key)})
    for what, xa, xb in (("checks", fa.checks, fb.checks), ("rules", fa.rules, fb.rules)):
        ids_a, ids_b = {x.id: x for x in xa}, {x.id: x for x in xb}
        for rid in ids_a.keys() | ids_b.keys():
            if ids_a.get(rid) != ids_b.get(rid):
                changes.append(
                    {
                        "what": f"{what[:-1]} {rid}",
                        "a": _present(ids_a.get(rid)),
                        "b": _present(ids_b.get(rid)),
                    }
                )
    items: list[dict[str, Any]] = []
    by_a, by_b = {it.id: it for it in fa.items}, {it.id: it for it in fb.items}
    for it in fb.items:
        if it.id not in by_a:
            items.append({"change": "added", "id": it.id, "name": it.name, "summary": _item_summary(it)})
    for it in fa.items:
        if it.id not in by_b:
            items.append({"change": "removed", "id": it.id, "name": it.name, "summary": _item_summary(it)})
            continue
        other = by_b[it.id]
        attrs = {
            a: {"a": _attr(it, a), "b": _attr(other, a)}
            for a in _ITEM_ATTRS
            if _attr(it, a) != _attr(other, a)
        }
        if attrs:
            items.append({"change": "changed", "id": it.id, "name": other.name, "attrs": attrs})
    if not changes and not items:
        return None
    return {"change": "changed", "id": fb.id, "name": fb.name, "changes": changes, "items": items}


def _present(x: object) -> str:
    return "defined" if x is not None else "absent"


def diff_layouts(a: Layout, b: Layout) -> LayoutDiff:
    """The differences from `a` to `b`."""
    out = LayoutDiff(a.ref, b.ref)
    files_a, files_b = {f.id: f for f in a.files}, {f.id: f for f in b.files}
    for f in b.files:
        if f.id not in files_a:
            out.files.append({"change": "added", "id": f.id, "name": f.name, "items": [
                {"change": "added", "id": it.id, "name": it.name, "summary": _item_summary(it)} for it in f.items
            ]})  # fmt: skip
    for f in a.files:
        if f.id not in files_b:
            out.files.append({"change": "removed", "id": f.id, "name": f.name})
        elif (d := _file_diff(f, files_b[f.id])) is not None:
            out.files.append(d)
    for key in sorted(a.code_tables.keys() | b.code_tables.keys()):
        ta, tb = a.code_tables.get(key), b.code_tables.get(key)
        if ta is None or tb is None:
            t = tb or ta
            assert t is not None
            out.code_tables.append(
                {"change": "added" if ta is None else "removed", "id": key, "name": t.name}
            )
            continue
        added = [{"code": k, "label": v} for k, v in tb.codes.items() if k not in ta.codes]
        removed = [{"code": k, "label": v} for k, v in ta.codes.items() if k not in tb.codes]
        renamed = [
            {"code": k, "a": v, "b": tb.codes[k]}
            for k, v in ta.codes.items()
            if k in tb.codes and tb.codes[k] != v
        ]
        if added or removed or renamed or ta.digits != tb.digits or ta.name != tb.name:
            entry: dict[str, Any] = {"change": "changed", "id": key, "name": tb.name}
            entry.update({"added": added, "removed": removed, "renamed": renamed})
            if ta.digits != tb.digits:
                entry["digits"] = {"a": ta.digits, "b": tb.digits}
            out.code_tables.append(entry)
    return out
