"""Load and strictly validate standard layout YAML files and their code tables."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.crossitem import parse_rule
from midlayout.layout.model import (
    ITEM_TYPES,
    CodeTable,
    ExactlyOne,
    FileDef,
    Item,
    Layout,
    Reference,
)
from midlayout.layout.paths import named_file
from midlayout.layout.yamlfile import Doc, PathKey, load_yaml
from midlayout.text.encodings import LAYOUT_ENCODINGS

REPERTOIRES = ("unicode", "cp932", "jisx0208", "jisx0213", "jisx0213_ivs")

_TOP = {"family", "family_name", "gyomu", "gyomu_name", "version", "encoding", "provenance", "files"}
_ITEM_REQ = {"id", "name", "type"}
_ITEM_OPT = {
    "no",
    "bytes",
    "digits",
    "chars",
    "scale",
    "source_id",
    "required",
    "code_table",
    "references",
    "note",
}


def sha256_file(path: Path, stop: threading.Event | None = None) -> str:
    """Hex sha256 of a file, read in chunks. When `stop` is set (checked between chunks), InterruptedError."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                raise InterruptedError(f"hashing {path} was stopped")
            h.update(chunk)
    return h.hexdigest()


def load_code_table(path: Path) -> CodeTable:
    """Load one code table file: id, name, digits and a code → 名称 mapping."""
    doc = load_yaml(path)
    node = c.mapping(doc, (), doc.data, {"id", "name", "digits", "codes"}, {"source", "note"})
    digits = c.positive(doc, ("digits",), node["digits"])
    codes = c.mapping(doc, ("codes",), node["codes"], set(), set(node["codes"] or {}))
    for code, label in codes.items():
        if len(code) != digits or not code.isascii():
            raise doc.error(("codes", code), f"code {code!r} does not have {digits} ASCII characters")
        c.text(doc, ("codes", code), label)
    return CodeTable(
        c.ident(doc, ("id",), node["id"]), c.name(doc, ("name",), node["name"]), digits, codes, path
    )


def _length(doc: Doc, at: PathKey, node: dict[str, Any], typ: str) -> tuple[int, str]:
    if typ == "date":
        if "bytes" in node or "digits" in node:
            raise doc.error(at, "a date item has no 桁数: it is written as YYYYMMDD")
        return 8, "digits"
    if typ == "flag":
        return 1, "digits"
    units = [u for u in ("bytes", "digits", "chars") if u in node]
    if len(units) != 1:
        raise doc.error(at, "state the 桁数 with exactly one of `bytes:`, `digits:` or `chars:`")
    if units[0] == "chars" and typ not in ("string", "code"):
        raise doc.error((*at, "chars"), "only string and code items state their 桁数 in `chars:`")
    return c.positive(doc, (*at, units[0]), node[units[0]]), units[0]


def _item(doc: Doc, at: PathKey, node: Any, no: int, tables: dict[str, CodeTable]) -> Item:
    node = c.mapping(doc, at, node, _ITEM_REQ, _ITEM_OPT)
    typ = c.choice(doc, (*at, "type"), node["type"], ITEM_TYPES)
    length, unit = _length(doc, at, node, typ)
    table = node.get("code_table")
    if typ == "code":
        if table is None:
            raise doc.error(at, "a code item needs `code_table:`")
        if c.text(doc, (*at, "code_table"), table) not in tables:
            raise doc.error((*at, "code_table"), f"unknown code table {table!r}")
    elif table is not None:
        raise doc.error((*at, "code_table"), "only items of type code take a code table")
    if typ == "number" and unit != "digits":
        raise doc.error(at, "a number item states its 桁数 in `digits:`")
    ref = None
    if "references" in node:
        target = c.text(doc, (*at, "references"), node["references"])
        if target.count(".") != 1:
            raise doc.error((*at, "references"), "write references as FILE.ITEM")
        ref = Reference(*target.split("."))
    return Item(
        no=node.get("no", no),
        id=c.ident(doc, (*at, "id"), node["id"]),
        name=c.name(doc, (*at, "name"), node["name"]),
        type=typ,
        length=length,
        unit=unit,
        required=c.flag(doc, (*at, "required"), node.get("required", False)),
        scale=c.positive(doc, (*at, "scale"), node.get("scale", 0), minimum=0),
        code_table=table,
        references=ref,
        note=str(node.get("note", "")),
        source_id=c.text(doc, (*at, "source_id"), node["source_id"]) if "source_id" in node else None,
    )


def _check(doc: Doc, at: PathKey, node: Any) -> ExactlyOne:
    node = c.mapping(doc, at, node, {"id", "exactly_one", "message"}, set())
    inner = c.mapping(doc, (*at, "exactly_one"), node["exactly_one"], {"file", "via", "item", "value"}, set())
    return ExactlyOne(
        id=c.ident(doc, (*at, "id"), node["id"]),
        file=c.ident(doc, (*at, "exactly_one", "file"), inner["file"]),
        via=c.ident(doc, (*at, "exactly_one", "via"), inner["via"]),
        item=c.ident(doc, (*at, "exactly_one", "item"), inner["item"]),
        value=c.text(doc, (*at, "exactly_one", "value"), inner["value"]),
        message=c.text(doc, (*at, "message"), node["message"]),
    )


def _file(doc: Doc, at: PathKey, node: Any, tables: dict[str, CodeTable]) -> FileDef:
    node = c.mapping(doc, at, node, {"id", "name", "key", "items"}, {"checks", "rules", "note"})
    raw_items = c.seq(doc, (*at, "items"), node["items"])
    items = tuple(_item(doc, (*at, "items", i), n, i + 1, tables) for i, n in enumerate(raw_items))
    ids = [it.id for it in items]
    for i, item_id in enumerate(ids):
        if item_id in ids[:i]:
            raise doc.error((*at, "items", i, "id"), f"item {item_id!r} is defined twice")
    key = tuple(c.text(doc, (*at, "key", i), k) for i, k in enumerate(c.seq(doc, (*at, "key"), node["key"])))
    for i, k in enumerate(key):
        if k not in ids:
            raise doc.error((*at, "key", i), f"key item {k!r} is not an item of this file")
    checks = tuple(_check(doc, (*at, "checks", i), n) for i, n in enumerate(node.get("checks", [])))
    by_id = {it.id: it for it in items}
    rules = tuple(parse_rule(doc, (*at, "rules", i), n, by_id) for i, n in enumerate(node.get("rules", [])))
    for i, rule in enumerate(rules):
        if rule.id in [r.id for r in rules[:i]]:
            raise doc.error((*at, "rules", i, "id"), f"rule {rule.id!r} is defined twice")
    return FileDef(
        c.ident(doc, (*at, "id"), node["id"]),
        c.name(doc, (*at, "name"), node["name"]),
        key,
        items,
        checks,
        rules,
    )


def _cross_check(doc: Doc, files: tuple[FileDef, ...]) -> None:
    by_id = {f.id: f for f in files}
    for fi, f in enumerate(files):
        for ii, it in enumerate(f.items):
            if it.references and ":" not in it.references.file:
                other = by_id.get(it.references.file)
                if other is None or it.references.item not in other.item_ids:
                    raise doc.error(
                        ("files", fi, "items", ii, "references"), "refers to an unknown FILE.ITEM"
                    )
        for ci, chk in enumerate(f.checks):
            other = by_id.get(chk.file)
            if other is None or chk.via not in other.item_ids or chk.item not in other.item_ids:
                raise doc.error(("files", fi, "checks", ci), "names an unknown file or item")


def _agrees_with_folder(doc: Doc, node: dict[str, Any], folder_ref: tuple[str, str, str]) -> None:
    family, gyomu, version = folder_ref
    by_folder = f"{family}/{gyomu}@{version}"
    said = {"family": family, "gyomu": gyomu, "version": version}
    for key, expected in said.items():
        value = c.text(doc, (key,), node[key])
        if value.removeprefix("v").removeprefix("V") != expected.removeprefix("v").removeprefix("V"):
            raise doc.error(
                (key,),
                f"says {value!r}, but the file's place names it {by_folder} (FAMILY/GYOMU/VERSION.yaml): "
                f"make the header say {expected!r}, or move the file",
            )


def load_layout(path: Path, folder_ref: tuple[str, str, str] | None = None) -> Layout:
    """Load a layout file and the code tables it lists; raise DefinitionError with file:line on any fault.

    `folder_ref` is (family, 業務, version) as the file's place on the layout search path names it
    (`FAMILY/GYOMU/VERSION.yaml`): the header must say the same, or a copied file with a stale header would
    register under one ID@VERSION and record another."""
    doc = load_yaml(path)
    node = c.mapping(doc, (), doc.data, _TOP, {"code_tables", "published", "repertoire"})
    tables: dict[str, CodeTable] = {}
    for name, rel in c.mapping(
        doc, ("code_tables",), node.get("code_tables", {}), set(), set(node.get("code_tables", {}))
    ).items():
        table_path = named_file(doc, ("code_tables", name), c.text(doc, ("code_tables", name), rel)).resolve()
        if not table_path.is_file():
            raise doc.error(("code_tables", name), f"code table file not found: {rel}")
        tables[name] = load_code_table(table_path)
    files = tuple(
        _file(doc, ("files", i), n, tables) for i, n in enumerate(c.seq(doc, ("files",), node["files"]))
    )
    _cross_check(doc, files)
    for key in ("family", "gyomu"):
        c.ident(doc, (key,), node[key])
    if folder_ref is not None:
        _agrees_with_folder(doc, node, folder_ref)
    return Layout(
        family=node["family"],
        family_name=c.name(doc, ("family_name",), node["family_name"]),
        gyomu=node["gyomu"],
        gyomu_name=c.name(doc, ("gyomu_name",), node["gyomu_name"]),
        version=c.text(doc, ("version",), node["version"]),
        encoding=c.choice(doc, ("encoding",), node["encoding"], LAYOUT_ENCODINGS),
        provenance=c.text(doc, ("provenance",), node["provenance"]),
        files=files,
        code_tables=tables,
        path=path,
        sha256=sha256_file(path),
        repertoire=c.choice(doc, ("repertoire",), node["repertoire"], REPERTOIRES)
        if "repertoire" in node
        else None,
    )
