"""`layouts import` of a sheet: find the item table, read each row strictly, write standard layout YAML.

Forgiving of layout: the header row is found within the first 30 rows of each sheet (titles, notes and
blank rows above it, merged cells, 項番 numbering), headers are matched by synonym (or a --columns map),
and header cells above the table (業務, 版, ファイルID …) are read as attributes. Strict about content:
blank rows, group headings (no 型 and no 桁数) and notes (a lone cell, or one starting with ※ or 注) are
skipped and counted; any other row that cannot be read is a SheetError naming sheet, row and column.

Over 350 lines on purpose: header detection, synonyms, 桁数/型 parsing and row classification are one
importer whose rules are read together.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from midlayout.errors import UsageError
from midlayout.layout import checks as c
from midlayout.layout.sheetformat import (
    CODE_COLUMNS,
    META,
    RULE_COLUMNS,
    Length,
    derive_id,
    length_unit_hint,
    norm,
    parse_length,
    parse_required,
    parse_type,
    role_of,
    unit_of,
)
from midlayout.layout.sheets import Sheet, SheetError, Workbook, read_workbook
from midlayout.layout.standard import load_layout
from midlayout.layout.yamlfile import load_yaml
from midlayout.text.encodings import LAYOUT_ENCODINGS as ENCODINGS

HEADER_SEARCH = 30
SCALE_HEADERS = ("小数", "小数部", "小数桁", "小数桁数", "うち小数")
INTEGER_HEADERS = ("整数", "整数部", "整数桁", "整数桁数")
_META_KEYS = {norm(k): v for k, v in META.items()}
_CODE_HEADER = [norm(h) for h in CODE_COLUMNS]
_RULE_HEADER = [norm(h) for h in RULE_COLUMNS]
_ROLE_NAMES = (
    "no", "id", "source_id", "name", "type", "length", "scale", "unit", "start", "required", "code", "references", "note",
)  # fmt: skip


@dataclass
class ImportReport:
    """What an import read and wrote; `skipped` counts rows by kind (blank, group, note)."""

    written: list[Path] = field(default_factory=list)
    files: int = 0
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    conditional: int = 0  # 条件付き必須 items: write their condition as a `rules:` entry

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": [str(p) for p in self.written],
            "files": self.files,
            "items": self.items,
            "skipped": dict(sorted(self.skipped.items())),
            "conditional_required": self.conditional,
        }


@dataclass(frozen=True)
class Table:
    """A table found in a sheet: its header row (1-based), columns by role, and the cells above it."""

    sheet: Sheet
    header_row: int
    columns: dict[str, int]
    headers: dict[str, str]
    meta: dict[str, str]


def load_columns(path: Path) -> dict[str, str]:
    """`--columns FILE.yaml`: `{header text: role}` for headers the synonyms do not know."""
    doc = load_yaml(path)
    node = c.mapping(doc, (), doc.data, set(), set(doc.data or {}))
    out = {}
    for header, role in node.items():
        out[norm(str(header))] = c.choice(doc, (str(header),), role, _ROLE_NAMES)
    return out


def meta_cells(rows: tuple[tuple[str, ...], ...]) -> dict[str, str]:
    """`label | value` or `label：value` cells whose label is a known attribute."""
    out: dict[str, str] = {}
    for row in rows:
        for i, cell in enumerate(row):
            if "：" in cell or ":" in cell:
                label, _, value = cell.replace("：", ":").partition(":")
                if norm(label) in _META_KEYS and value.strip():
                    out.setdefault(_META_KEYS[norm(label)], value.strip())
                    continue
            if norm(cell) in _META_KEYS:
                value = next((v for v in row[i + 1 :] if v), "")
                if value:
                    out.setdefault(_META_KEYS[norm(cell)], value)
    return out


def find_table(sheet: Sheet, extra: dict[str, str] | None) -> Table | None:
    """The item table of a sheet: the first row (of the first 30) naming a 名称 and a 型 or 桁数 column.

    A コード一覧 or 規則 sheet (its own header) holds no item table."""
    if _header_index(sheet, _CODE_HEADER) or _header_index(sheet, _RULE_HEADER):
        return None
    for r, row in enumerate(sheet.rows[:HEADER_SEARCH]):
        cols: dict[str, int] = {}
        heads: dict[str, str] = {}
        for i, cell in enumerate(row):
            role = role_of(cell, extra) if cell else None
            if role and role not in cols:
                cols[role], heads[role] = i, cell
        if "name" in cols and ("type" in cols or "length" in cols):
            return Table(sheet, r + 1, cols, heads, meta_cells(sheet.rows[:r]))
    return None


def _header_index(sheet: Sheet, wanted: list[str]) -> tuple[int, dict[str, int]] | None:
    for r, row in enumerate(sheet.rows[:HEADER_SEARCH]):
        keys = [norm(cell) for cell in row]
        if all(w in keys for w in wanted if w):
            return r + 1, {w: keys.index(w) for w in wanted}
    return None


def _cell(row: tuple[str, ...], col: int | None) -> str:
    return row[col] if col is not None and col < len(row) else ""


class _Reader:
    """Reads the item rows of one table (shared by the standard and the source importers)."""

    def __init__(self, book: Workbook, table: Table, report: ImportReport) -> None:
        self.book, self.table, self.report = book, table, report
        self.columns, self.headers = dict(table.columns), dict(table.headers)
        self.integer_part = False  # 桁数 is the integer part (整数部 under it): decimals add to it

    def error(self, row: int, role: str | None, message: str) -> SheetError:
        col = self.columns.get(role) if role else None
        label = self.headers.get(role, "") if role else ""
        return SheetError(self.book.path, self.table.sheet.name, row, col, message, label)

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        """(sheet row, cells by role) of every item row; the rest is skipped and counted."""
        t = self.table
        out: list[tuple[int, dict[str, str]]] = []
        for r, row in enumerate(t.sheet.rows[t.header_row :], start=t.header_row + 1):
            filled = [i for i, v in enumerate(row) if v]
            cells = {role: _cell(row, col) for role, col in self.columns.items()}
            if not out and filled and self._continues_header(row, cells):
                self.report.skipped["header"] += 1
            elif not filled:
                self.report.skipped["blank"] += 1
            elif row[filled[0]][:1] in ("※", "注", "*") or (
                len(filled) == 1 and filled[0] not in (self.columns.get("name"), self.columns.get("id"))
            ):
                self.report.skipped["note"] += 1
            elif not cells.get("type") and not cells.get("length"):
                self.report.skipped["group"] += 1
            else:
                out.append((r, cells))
        return out

    def _continues_header(self, row: tuple[str, ...], cells: dict[str, str]) -> bool:
        """A second header row (sub-headings under merged cells, such as 整数部/小数部 under 桁数): its 名称 is
        empty or repeats the header (a vertical merge), and its 桁数 is not a 桁数. A 小数 sub-heading becomes
        the decimals column."""
        heads = self.headers
        name, length = cells.get("name", ""), cells.get("length", "")
        if name not in ("", heads.get("name")) or (length and parse_length(length) is not None):
            return False
        if not (any(cells.get(k) == heads.get(k) for k in heads) or not (cells.get("type") or length)):
            return False
        for i, cell in enumerate(row):
            key = norm(cell)
            if key in SCALE_HEADERS and "scale" not in self.columns:
                self.columns["scale"], self.headers["scale"] = i, cell
            elif key in INTEGER_HEADERS and i == self.columns.get("length"):
                self.integer_part = True
        return True


def _item(rd: _Reader, r: int, cells: dict[str, str], encoding: str, ids: dict[str, int]) -> dict[str, Any]:
    name = cells.get("name", "")
    if not name:
        raise rd.error(r, "name", "an item row has no 名称")
    if c.CONTROL.search(name):
        raise rd.error(r, "name", "a 名称 with a line break or control character: write it on one line")
    typ = parse_type(cells.get("type", "")) if cells.get("type") else None
    length = parse_length(cells.get("length", "")) if cells.get("length") else None
    if cells.get("length") and length is None:
        raise rd.error(r, "length", f"桁数 {cells['length']!r} is not 10, 9(5), X(20), N(10) or 10,2")
    if typ is None:
        if cells.get("type"):
            raise rd.error(r, "type", f"型 {cells['type']!r} is not 文字/数字/数値/日付/コード/フラグ")
        typ = {"9": "number", "X": "string", "N": "string"}.get(length.picture if length else "", "")
        if not typ:
            raise rd.error(r, "type", "no 型, and the 桁数 does not say it")
    node: dict[str, Any] = {}
    raw_no = cells.get("no", "")
    if raw_no:
        if not norm(raw_no).isdigit():
            raise rd.error(r, "no", f"項番 {raw_no!r} is not a number")
        node["no"] = int(norm(raw_no))
    raw_id = cells.get("id", "")
    if raw_id:
        item_id = derive_id(raw_id)
        node["id"] = item_id
        if item_id != raw_id:
            node["source_id"] = raw_id
    else:
        node["id"] = f"item_{node.get('no', len(ids) + 1):03d}"
    if node["id"] in ids:
        raise rd.error(r, "id", f"item id {node['id']!r} repeats row {ids[node['id']]}")
    ids[node["id"]] = r
    if cells.get("source_id"):
        node["source_id"] = cells["source_id"]
    node["name"] = name
    node.update(_typed(rd, r, cells, typ, length, encoding))
    req = parse_required(cells.get("required", ""))
    if req is None:
        raise rd.error(r, "required", f"必須 {cells['required']!r} is not 必須/任意/条件付き必須")
    if req[0]:
        node["required"] = True
    note = cells.get("note", "")
    if req[1]:
        rd.report.conditional += 1
        note = f"{note} (データ出力条件: 条件付き必須)".strip()
    if cells.get("code"):
        node["code_table"] = cells["code"]
    elif node["type"] == "code":
        raise rd.error(
            r, "code" if "code" in rd.table.columns else "type", "a コード item names its code table"
        )
    if cells.get("references"):
        node["references"] = cells["references"]
    if note:
        node["note"] = note
    return node


def _typed(
    rd: _Reader, r: int, cells: dict[str, str], typ: str, length: Any, encoding: str
) -> dict[str, Any]:
    """type plus its 桁数 key (bytes/digits/chars) and scale, from the 型, 桁数, 単位 and header hint."""
    if typ in ("date", "flag"):
        fixed = 8 if typ == "date" else 1
        if length is not None and (length.count != fixed or length.scale):
            raise rd.error(r, "length", f"a {typ} has 桁数 {fixed}")
        return {"type": typ}
    if length is None:
        raise rd.error(r, "length", "no 桁数")
    unit = unit_of(cells["unit"]) if cells.get("unit") else None
    if cells.get("unit") and unit is None:
        raise rd.error(r, "unit", f"単位 {cells['unit']!r} is not バイト/桁/文字")
    hint = length_unit_hint(rd.table.headers.get("length", ""))
    count = length.count
    if cells.get("scale"):  # a decimals column (小数部 under a merged 桁数)
        raw = norm(cells["scale"])
        if not raw.isdigit() or length.scale:
            raise rd.error(r, "scale", f"小数部 {cells['scale']!r} is not a number of decimals")
        if int(raw):
            count += int(raw) if rd.integer_part else 0
            length = Length(count, "digits", int(raw), length.picture)
    if length.unit == "dbcs":  # N(10): ten double-byte characters
        count, form_unit = (count, "chars") if encoding.startswith("utf") else (count * 2, "bytes")
    else:
        form_unit = length.unit
    if typ == "digitstring":
        typ, default = "string", "digits"
    elif typ in ("number", "code"):
        default = "digits"
    else:
        default = "chars" if encoding.startswith("utf") else "bytes"
    unit = unit or hint or form_unit or default
    node: dict[str, Any] = {"type": typ, unit: count}
    if length.scale:
        if typ != "number":
            raise rd.error(r, "length", "only a number has decimals (10,2)")
        node["scale"] = length.scale
    return node


@dataclass(frozen=True)
class Options:
    """What a sheet may not say: family, 業務, version and encoding (override header cells)."""

    family: str | None = None
    gyomu: str | None = None
    version: str | None = None
    encoding: str | None = None
    family_name: str | None = None
    gyomu_name: str | None = None


def _code_tables(book: Workbook) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(table key → file, file → code table YAML) from every コード一覧-shaped sheet."""
    files: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    for sheet in book.sheets:
        found = _header_index(sheet, _CODE_HEADER)
        if not found:
            continue
        hr, col = found
        for r, row in enumerate(sheet.rows[hr:], start=hr + 1):
            cell = {k: _cell(row, i) for k, i in col.items()}
            if not any(cell.values()):
                continue
            key, rel = cell[_CODE_HEADER[0]], cell[_CODE_HEADER[4]] or f"codes/{cell[_CODE_HEADER[0]]}.yaml"
            if not key or not cell[_CODE_HEADER[5]]:
                raise SheetError(
                    book.path, sheet.name, r, col[_CODE_HEADER[0]], "a code row needs コード表 and コード"
                )
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise SheetError(
                    book.path, sheet.name, r, col[_CODE_HEADER[4]], "ファイル must stay in the layout folder"
                )
            digits = cell[_CODE_HEADER[3]] or str(len(cell[_CODE_HEADER[5]]))
            if not norm(digits).isdigit():
                raise SheetError(
                    book.path, sheet.name, r, col[_CODE_HEADER[3]], f"桁数 {digits!r} is not a number"
                )
            files[key] = rel
            table = tables.setdefault(
                rel,
                {
                    "id": cell[_CODE_HEADER[1]] or key,
                    "name": cell[_CODE_HEADER[2]] or key,
                    "digits": int(norm(digits)),
                    "codes": {},
                },
            )
            table["codes"][cell[_CODE_HEADER[5]]] = cell[_CODE_HEADER[6]] or cell[_CODE_HEADER[5]]
    return files, tables


def _rules(book: Workbook) -> dict[str, dict[str, list[Any]]]:
    """file id → {"checks": [...], "rules": [...]} from a 規則 sheet (JSON definitions)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for sheet in book.sheets:
        found = _header_index(sheet, _RULE_HEADER)
        if not found:
            continue
        hr, col = found
        for r, row in enumerate(sheet.rows[hr:], start=hr + 1):
            fid, kind, text = (_cell(row, col[k]) for k in _RULE_HEADER)
            if not (fid or kind or text):
                continue
            if kind not in ("check", "rule"):
                raise SheetError(book.path, sheet.name, r, col[_RULE_HEADER[1]], "種類 is check or rule")
            try:
                node = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SheetError(
                    book.path, sheet.name, r, col[_RULE_HEADER[2]], f"定義 is not JSON ({exc.msg})"
                ) from None
            out.setdefault(fid, {"checks": [], "rules": []})[kind + "s"].append(node)
    return out


def _file_node(
    book: Workbook, table: Table, index: int, encoding: str, report: ImportReport
) -> dict[str, Any]:
    rd = _Reader(book, table, report)
    ids: dict[str, int] = {}
    items = [_item(rd, r, cells, encoding, ids) for r, cells in rd.rows()]
    if not items:
        raise SheetError(book.path, table.sheet.name, table.header_row, None, "the table has no item rows")
    meta = table.meta
    fid = meta.get("file_id") or (table.sheet.name if c.ASCII_ID.match(table.sheet.name) else f"file{index}")
    key = meta.get("key", "").replace("＋", "+")
    report.files += 1
    report.items += len(items)
    by_source = {it["source_id"]: it["id"] for it in items if "source_id" in it}
    return {
        "id": fid,
        "name": meta.get("file_name") or table.sheet.name,
        "key": [by_source.get(k.strip(), k.strip()) for k in key.split("+")] if key else [items[0]["id"]],
        "items": items,
    }


def standard_document(
    book: Workbook, opts: Options, extra: dict[str, str] | None, report: ImportReport
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(layout YAML node, code table file → node) from a workbook; SheetError on the first bad cell."""
    tables = [(s, find_table(s, extra)) for s in book.sheets]
    meta: dict[str, str] = {}
    for s, t in tables:
        meta.update(
            {
                k: v
                for k, v in meta_cells(s.rows if t is None else s.rows[: t.header_row - 1]).items()
                if k not in meta
            }
        )
    values = {
        k: getattr(opts, k) or meta.get(k)
        for k in ("family", "gyomu", "version", "encoding", "family_name", "gyomu_name")
    }
    for k, flag in (
        ("family", "--family"),
        ("gyomu", "--gyomu"),
        ("version", "--version"),
        ("encoding", "--encoding"),
    ):
        if not values[k]:
            raise UsageError(f"{book.path}: no {k}: pass {flag} (the sheets have no header cell for it)")
    if values["encoding"] not in ENCODINGS:
        raise UsageError(f"encoding {values['encoding']!r} is not one of {', '.join(ENCODINGS)}")
    files = [
        _file_node(book, t, i + 1, str(values["encoding"]), report)
        for i, (_, t) in enumerate((s, t) for s, t in tables if t is not None)
    ]
    if not files:
        raise UsageError(f"{book.path}: no sheet has an item table (a header row with 項目名 and 型 or 桁数)")
    code_files, code_nodes = _code_tables(book)
    for f in files:
        for it in f["items"]:
            if "code_table" in it and it["code_table"] not in code_files:
                raise UsageError(
                    f"{book.path}: code table {it['code_table']!r} of {f['id']}.{it['id']} is in no コード一覧 sheet"
                )
    for fid, defs in _rules(book).items():
        target = next((f for f in files if f["id"] == fid), None)
        if target is None:
            raise UsageError(f"{book.path}: the 規則 sheet names file {fid!r}, which no sheet defines")
        for kind in ("checks", "rules"):
            if defs[kind]:
                target[kind] = defs[kind]
    sheets = ", ".join(t.sheet.name for _, t in tables if t is not None)
    provenance = (
        f"Imported by midlayout layouts import from {book.path.name} (sheets {sheets}; sha256 {book.sha256})."
    )
    if meta.get("provenance"):
        provenance += f" Source: {meta['provenance']}"
    doc: dict[str, Any] = {
        "family": values["family"],
        "family_name": values["family_name"] or values["family"],
        "gyomu": values["gyomu"],
        "gyomu_name": values["gyomu_name"] or values["gyomu"],
        "version": values["version"],
        "encoding": values["encoding"],
    }
    if meta.get("repertoire"):
        doc["repertoire"] = meta["repertoire"]
    doc["provenance"] = provenance
    if code_files:
        doc["code_tables"] = code_files
    doc["files"] = files
    return doc, code_nodes


def dump_yaml(node: Any) -> str:
    """YAML as people write it here: keys in order, Japanese as is."""
    return yaml.safe_dump(node, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)


def _target(out: Path, doc: dict[str, Any]) -> Path:
    if out.suffix in (".yaml", ".yml"):
        return out
    return out / str(doc["family"]) / str(doc["gyomu"]) / f"{doc['version']}.yaml"


def import_standard(paths: list[Path], out: Path, opts: Options, columns: Path | None = None) -> ImportReport:
    """Import sheets as one standard layout; the YAML is written only once it loads cleanly."""
    report = ImportReport()
    book = merge_books([read_workbook(p) for p in expand(paths)])
    doc, code_nodes = standard_document(book, opts, load_columns(columns) if columns else None, report)
    target = _target(out, doc)
    with tempfile.TemporaryDirectory(prefix=".midlayout-import-", dir=_existing_parent(target)) as tmp:
        staged = Path(tmp) / target.name
        staged.write_text(dump_yaml(doc), encoding="utf-8")
        rels = [staged]
        for rel, node in code_nodes.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_yaml(node), encoding="utf-8")
            rels.append(path)
        load_layout(staged)  # a layout that does not load is never written
        target.parent.mkdir(parents=True, exist_ok=True)
        for path in rels:
            dest = target.parent / path.relative_to(tmp) if path != staged else target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, dest)
            report.written.append(dest)
    return report


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    return parent


def expand(paths: list[Path]) -> list[Path]:
    """A folder stands for the CSV files in it, in name order."""
    out: list[Path] = []
    for p in paths:
        out += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    return out


def merge_books(books: list[Workbook]) -> Workbook:
    """Several CSV sheets (or workbooks) as one; the sha256 is that of the first when there is one."""
    if len(books) == 1:
        return books[0]
    import hashlib

    sha = hashlib.sha256("".join(b.sha256 for b in books).encode()).hexdigest()
    return Workbook(books[0].path, tuple(s for b in books for s in b.sheets), sha)
