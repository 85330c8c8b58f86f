"""`layouts export`: a standard layout as a readable データ項目一覧表 (xlsx or CSV), the shape import reads.

Sheets: レイアウト (the layout's attributes), one sheet per file (header cells, then the item table, then a
note), コード一覧 (every code of every table) and, when the layout has any, 規則 (checks and cross-item
rules, one JSON definition per row).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from midlayout.errors import InputError, Location, UsageError
from midlayout.layout.model import CrossItemRule, ExactlyOne, FileDef, Item, Layout
from midlayout.layout.sheetformat import (
    CODE_COLUMNS,
    REQUIRED_LABEL,
    ROLES,
    RULE_COLUMNS,
    TYPE_LABELS,
    UNIT_LABELS,
)
from midlayout.layout.sheets import column_letter, write_csv, write_xlsx

ITEM_COLUMNS = (
    "no",
    "id",
    "source_id",
    "name",
    "type",
    "length",
    "unit",
    "required",
    "code",
    "references",
    "note",
)
HEADER = [ROLES[r][0] if r != "id" else "項目ID" for r in ITEM_COLUMNS]
HEADER[2] = "元ID"
NOTE = "※ 桁数の単位は「単位」列（バイト／桁／文字）。この表は midlayout layouts export が書いたもの。"
Sheet = tuple[str, list[list[object]], list[str]]


def _length(it: Item) -> str:
    return f"{it.length},{it.scale}" if it.scale else str(it.length)


def _item_row(it: Item) -> list[object]:
    ref = f"{it.references.file}.{it.references.item}" if it.references else ""
    return [
        it.no,
        it.id,
        it.source_id or "",
        it.name,
        TYPE_LABELS[it.type],
        _length(it),
        UNIT_LABELS[it.unit],
        REQUIRED_LABEL if it.required else "",
        it.code_table or "",
        ref,
        it.note,
    ]


def _file_sheet(layout: Layout, f: FileDef) -> list[list[object]]:
    rows: list[list[object]] = [
        [f"データ項目一覧表　{layout.gyomu_name}　{f.name}"],
        ["ファイルID", f.id],
        ["ファイル名", f.name],
        ["キー", "+".join(f.key)],
        [],
        list(HEADER),
    ]
    rows += [_item_row(it) for it in f.items]
    return [*rows, [], [NOTE]]


def _meta_sheet(layout: Layout) -> list[list[object]]:
    return [
        [f"{layout.family_name}　{layout.gyomu_name}　V{layout.version}"],
        ["ファミリ", layout.family],
        ["ファミリ名称", layout.family_name],
        ["業務", layout.gyomu],
        ["業務名称", layout.gyomu_name],
        ["版", layout.version],
        ["文字コード", layout.encoding],
        ["文字集合", layout.repertoire or ""],
        ["出典", layout.provenance],
    ]


def _code_sheet(layout: Layout) -> list[list[object]]:
    rows: list[list[object]] = [list(CODE_COLUMNS)]
    for key, t in layout.code_tables.items():
        rel = Path(os.path.relpath(Path(t.path).resolve(), layout.path.parent.resolve())).as_posix()
        rows += [[key, t.id, t.name, t.digits, rel, code, label] for code, label in t.codes.items()]
    return rows


def check_node(chk: ExactlyOne) -> dict[str, Any]:
    """A household-style check as its YAML node."""
    inner = {"file": chk.file, "via": chk.via, "item": chk.item, "value": chk.value}
    return {"id": chk.id, "exactly_one": inner, "message": chk.message}


def rule_node(rule: CrossItemRule) -> dict[str, Any]:
    """A cross-item rule as its YAML node (flag values as "0"/"1")."""
    when: dict[str, Any] = {"item": rule.when.item}
    if rule.when.op == "in":
        when["in"] = [{"true": "1", "false": "0"}.get(v, v) for v in rule.when.values]
    else:
        when[rule.when.op] = True
    node: dict[str, Any] = {"id": rule.id, "when": when}
    if rule.require:
        node["require"] = list(rule.require)
    if rule.forbid:
        node["forbid"] = list(rule.forbid)
    if rule.message:
        node["message"] = rule.message
    return node


def _rule_sheet(layout: Layout) -> list[list[object]]:
    rows: list[list[object]] = [list(RULE_COLUMNS)]
    for f in layout.files:
        rows += [[f.id, "check", json.dumps(check_node(c), ensure_ascii=False)] for c in f.checks]
        rows += [[f.id, "rule", json.dumps(rule_node(r), ensure_ascii=False)] for r in f.rules]
    return rows


def _sheet_names(layout: Layout) -> list[str]:
    """One sheet per file, named by its 名称 unless Excel cannot hold it (≤ 31 characters, unique)."""
    names: list[str] = []
    for f in layout.files:
        name = f.name
        if len(name) > 31 or any(ch in name for ch in "[]:*?/\\") or name in names or name in _FIXED:
            name = f.id
        names.append(name)
    return names


_FIXED = ("レイアウト", "コード一覧", "規則")


def layout_sheets(layout: Layout) -> list[Sheet]:
    """The sheets of the export, each with its merged title range."""
    width = column_letter(len(HEADER) - 1)
    sheets: list[Sheet] = [("レイアウト", _meta_sheet(layout), ["A1:B1"])]
    for name, f in zip(_sheet_names(layout), layout.files, strict=True):
        sheets.append((name, _file_sheet(layout, f), [f"A1:{width}1"]))
    if layout.code_tables:
        sheets.append(("コード一覧", _code_sheet(layout), []))
    if any(f.checks or f.rules for f in layout.files):
        sheets.append(("規則", _rule_sheet(layout), []))
    return sheets


def export_layout(layout: Layout, fmt: str, out: Path) -> list[Path]:
    """Write `layout` as one xlsx workbook at `out`, or (csv) one CSV per sheet in the folder `out`."""
    if fmt not in ("xlsx", "csv"):
        raise UsageError(f"--format {fmt!r}: xlsx or csv")
    if fmt == "xlsx" and out.is_dir():
        raise UsageError(f"--out {out} is a folder: give FILE.xlsx (a folder takes --format csv)")
    sheets = layout_sheets(layout)
    try:
        if fmt == "xlsx":
            out.parent.mkdir(parents=True, exist_ok=True)
            write_xlsx(out, sheets)
            return [out]
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for k, (name, rows, _) in enumerate(sheets):
            path = out / f"{k:02d}_{name}.csv"
            write_csv(path, rows)
            paths.append(path)
        return paths
    except OSError as exc:
        raise InputError(
            f"cannot write the export here ({exc.strerror or exc})", Location(file=str(out))
        ) from None
