"""`layouts import --as source`: a vendor record-layout sheet or a COBOL copybook as a source layout YAML.

What neither says comes from options: the encoding, the record terminator and the file-name pattern.
The record length written is the sum of the fields, and the YAML is written only once it loads cleanly.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from midlayout.errors import UsageError
from midlayout.layout import checks as c
from midlayout.layout.copybook import CobolField, parse_copybook
from midlayout.layout.sheetformat import derive_id, norm, parse_length
from midlayout.layout.sheetimport import (
    ImportReport,
    _Reader,
    dump_yaml,
    expand,
    find_table,
    load_columns,
    merge_books,
)
from midlayout.layout.sheets import SheetError, read_workbook
from midlayout.layout.source import TERMINATORS, load_source
from midlayout.text.encodings import EBCDIC_ENCODINGS, SOURCE_ENCODINGS, canonical

COPYBOOK_SUFFIXES = (".cpy", ".cbl", ".cob", ".copy")
_FILLER_NAMES = ("filler", "予備", "空き", "未使用", "fill")
_SOURCE_TYPES = {
    "text": ("x", "文字", "文字列", "半角", "全角", "英数", "英数字", "カナ", "漢字", "text", "char"),
    "dbcs": ("n", "g", "dbcs", "national", "日本語", "漢字(n)"),
    "zoned": ("9", "数字", "数値", "zoned", "ゾーン", "ゾーン10進", "display"),
    "packed": ("packed", "comp-3", "パック", "パック10進", "p"),
    "binary": ("binary", "comp", "comp-4", "バイナリ", "2進", "b"),
    "filler": ("filler", "予備", "空き"),
}


@dataclass(frozen=True)
class SourceOptions:
    """What a copybook or record-layout sheet does not say."""

    encoding: str | None = None
    terminator: str | None = None
    match: str | None = None
    vendor: str | None = None
    redefines: str | None = None


def _encoding(opts: SourceOptions) -> str:
    if not opts.encoding:
        raise UsageError("a source layout needs --encoding (the extract's; a copybook does not say it)")
    if opts.encoding not in SOURCE_ENCODINGS:
        raise UsageError(f"--encoding {opts.encoding!r} is not one of {', '.join(SOURCE_ENCODINGS)}")
    return canonical(opts.encoding)


def _field_id(name: str, k: int, seen: set[str]) -> str:
    fid = derive_id(name)
    if not c.ASCII_ID.match(fid) or set(fid) == {"_"}:
        fid = f"F{k:03d}"
    base, n = fid, 2
    while fid in seen:
        fid, n = f"{base}_{n}", n + 1
    seen.add(fid)
    return fid


def _cobol_fields(fields: list[CobolField], encoding: str) -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    for k, f in enumerate(fields, start=1):
        typ = "zoned_ebcdic" if f.type == "zoned" and encoding in EBCDIC_ENCODINGS else f.type
        node: dict[str, Any] = {"id": _field_id(f.name, k, seen), "start": f.start + 1, "length": f.length}
        if typ != "text":
            node["type"] = typ
        if typ == "binary":
            node["signed"] = f.signed
        if f.scale:
            node["scale"] = f.scale
        notes = [f"COBOL {f.name} (line {f.line})", *f.notes]
        node["note"] = "; ".join(notes)
        out.append(node)
    return out


def _sheet_fields(
    paths: list[Path], encoding: str, columns: Path | None, report: ImportReport
) -> tuple[str, list[dict[str, Any]]]:
    book = merge_books([read_workbook(p) for p in expand(paths)])
    extra = load_columns(columns) if columns else None
    table = next((t for s in book.sheets if (t := find_table(s, extra)) is not None), None)
    if table is None:
        raise UsageError(
            f"{book.path}: no sheet has a record layout (a header row with 項目名 and 属性 or バイト数)"
        )
    rd = _Reader(book, table, report)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    offset = 0
    for k, (r, cells) in enumerate(rd.rows(), start=1):
        name = cells.get("name", "")
        length = parse_length(cells.get("length", "")) if cells.get("length") else None
        if length is None:
            raise rd.error(r, "length", f"バイト数 {cells.get('length', '')!r} is not a byte count")
        typ = _source_type(rd, r, cells, name, length)
        size = length.count * (2 if length.unit == "dbcs" else 1)
        if length.unit == "digits" and typ == "packed":  # 9(7) or 11,2: digits, not bytes
            size = length.count // 2 + 1
        elif length.unit == "digits" and typ == "binary":
            size = 2 if length.count <= 4 else 4 if length.count <= 9 else 8
        start = offset + 1
        if cells.get("start"):
            raw = norm(cells["start"])
            if not raw.isdigit():
                raise rd.error(r, "start", f"開始位置 {cells['start']!r} is not a number")
            start = int(raw)
        node: dict[str, Any] = {
            "id": _field_id(cells.get("id") or name, k, seen),
            "start": start,
            "length": size,
        }
        if typ == "zoned" and encoding in EBCDIC_ENCODINGS:
            typ = "zoned_ebcdic"
        if typ != "text":
            node["type"] = typ
        if length.scale and typ in ("zoned", "zoned_ebcdic", "packed", "binary"):
            node["scale"] = length.scale
        if name and node["id"] != name:
            node["note"] = name
        out.append(node)
        offset = start - 1 + size
    if not out:
        raise SheetError(book.path, table.sheet.name, table.header_row, None, "the table has no field rows")
    report.files, report.items = 1, len(out)
    return table.sheet.name, out


def _source_type(rd: _Reader, r: int, cells: dict[str, str], name: str, length: Any) -> str:
    if norm(name) in _FILLER_NAMES:
        return "filler"
    raw = cells.get("type", "")
    if not raw:
        return {"N": "dbcs", "9": "zoned"}.get(length.picture, "text")
    t = norm(raw)
    for typ, names in _SOURCE_TYPES.items():
        if t in names:
            return typ
    raise rd.error(r, "type", f"属性 {raw!r} is not X/N/9/packed/binary/filler")


def import_source(
    paths: list[Path], out: Path, opts: SourceOptions, columns: Path | None = None
) -> ImportReport:
    """Write one source layout file (one extract file) from a copybook or a record-layout sheet."""
    report = ImportReport()
    encoding = _encoding(opts)
    files = expand(paths)
    if len(files) > 1 and any(f.suffix.lower() in COPYBOOK_SUFFIXES for f in files):
        raise UsageError("import one copybook at a time (one copybook describes one record layout)")
    if len(files) == 1 and files[0].suffix.lower() in COPYBOOK_SUFFIXES:
        path = files[0]
        if not path.is_file():
            raise UsageError(f"{path}: file not found")
        record, cobol = parse_copybook(
            path, path.read_text(encoding="utf-8", errors="strict"), opts.redefines
        )
        fields = _cobol_fields(cobol, encoding)
        report.files, report.items = 1, len(fields)
        name = f"{record} (COBOL copybook {path.name})"
    else:
        record, fields = _sheet_fields(files, encoding, columns, report)
        name = f"{record} ({files[0].name})"
    term = opts.terminator or "none"
    if term not in TERMINATORS:
        raise UsageError(f"--terminator {term!r}: one of {', '.join(TERMINATORS)}")
    reclen = max(f["start"] - 1 + f["length"] for f in fields)
    file_id = derive_id(record).lower()
    doc = {
        "vendor": opts.vendor or derive_id(files[0].stem).lower(),
        "name": name,
        "files": [
            {
                "id": file_id if c.ASCII_ID.match(file_id) else "record",
                "name": record,
                "format": "fixed",
                "encoding": encoding,
                "match": opts.match or "*",
                "record_length": reclen,
                "terminator": term,
                "offset_base": 1,
                "fields": fields,
            }
        ],
    }
    target = out if out.suffix in (".yaml", ".yml") else out / f"{files[0].stem}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, suffix=".yaml", delete=False
    ) as fh:
        fh.write(dump_yaml(doc))
    staged = Path(fh.name)
    try:
        load_source(staged)  # gaps, overlaps, misfits: never written
    except BaseException:
        staged.unlink()
        raise
    staged.replace(target)
    report.written.append(target)
    return report
