"""Declarative mappings: vendor source fields → items of a standard layout, as a small vocabulary.

Each target item has exactly one source (`from`, `concat`, `const` or `lookup`) and a list of `ops`.
Nothing in a mapping file is executed: the vocabulary below is compiled to polars expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.gaiji import UNMAPPED_POLICIES, GaijiOptions, load_gaiji_table
from midlayout.layout.model import Layout
from midlayout.layout.ops import OpScope, parse_op
from midlayout.layout.paths import named_file
from midlayout.layout.registry import resolve
from midlayout.layout.source import SourceLayout, load_source
from midlayout.layout.standard import sha256_file
from midlayout.layout.standard_source import standard_source
from midlayout.layout.yamlfile import Doc, PathKey, load_yaml
from midlayout.text.encodings import SOURCE_ENCODINGS, canonical
from midlayout.text.wareki import ERA_KEYS


@dataclass(frozen=True)
class CodeMap:
    """A vendor code → standard code table, loaded from a data file."""

    id: str
    target_table: str | None
    map: dict[str, str]
    path: Path


@dataclass(frozen=True)
class Op:
    """One step of an item's pipeline."""

    name: str
    args: Any = None
    line: int | None = None


@dataclass(frozen=True)
class Lookup:
    """Take `value` from the row of input `source` whose `key` equals this row's `match`."""

    source: str
    match: str
    key: str
    value: str


@dataclass(frozen=True)
class ItemRule:
    """How one target item is produced."""

    item: str
    kind: str  # from | concat | const | lookup
    fields: tuple[str, ...] = ()
    const: str | None = None
    sep: str = ""
    lookup: Lookup | None = None
    ops: tuple[Op, ...] = ()
    line: int | None = None
    allow_control: tuple[str, ...] = ()  # control characters this item may hold (text/controls.py NAMES)


@dataclass(frozen=True)
class FileMapping:
    """Target file ← one primary source file."""

    target: str
    source: str
    items: tuple[ItemRule, ...]


@dataclass(frozen=True)
class Mapping:
    """A versioned mapping from one vendor's source layout to one standard layout version."""

    id: str
    version: str
    target: Layout
    source: SourceLayout
    files: tuple[FileMapping, ...]
    code_maps: dict[str, CodeMap]
    era_schemes: dict[str, dict[str, str]]
    path: Path
    sha256: str
    extra_files: tuple[Path, ...] = field(default_factory=tuple)
    gaiji: GaijiOptions = field(default_factory=GaijiOptions)


def _load_code_map(doc: Doc, at: PathKey, path: Path, layout: Layout) -> CodeMap:
    if not path.is_file():
        raise doc.error(at, f"code map file not found: {path}")
    cdoc = load_yaml(path)
    node = c.mapping(cdoc, (), cdoc.data, {"id", "map"}, {"name", "target_table", "note"})
    target = node.get("target_table")
    mapping = c.mapping(cdoc, ("map",), node["map"], set(), set(node["map"] or {}))
    for key, value in mapping.items():
        c.text(cdoc, ("map", key), value)
    if target is not None:
        table = layout.code_tables.get(target)
        if table is None:
            raise cdoc.error(("target_table",), f"layout {layout.ref} has no code table {target!r}")
        for key, value in mapping.items():
            if value not in table.codes:
                raise cdoc.error(("map", key), f"{value!r} is not a code of {table.name} ({target})")
    return CodeMap(c.ident(cdoc, ("id",), node["id"]), target, {str(k): v for k, v in mapping.items()}, path)


def _op(
    doc: Doc, at: PathKey, node: Any, code_maps: dict[str, CodeMap], eras: dict[str, dict[str, str]]
) -> Op:
    name, args = parse_op(doc, at, node, OpScope(frozenset(code_maps), eras))
    return Op(name, args, doc.line(at))


_SOURCES = ("from", "concat", "const", "lookup")


def _item(
    doc: Doc,
    at: PathKey,
    item: str,
    node: Any,
    source_fields: set[str],
    sources: SourceLayout,
    code_maps: dict[str, CodeMap],
    eras: dict[str, dict[str, str]],
) -> ItemRule:
    node = c.mapping(doc, at, node, set(), {*_SOURCES, "sep", "ops", "allow_control"})
    kinds = [k for k in _SOURCES if k in node]
    if len(kinds) != 1:
        raise doc.error(at, f"give exactly one of {', '.join(_SOURCES)}")
    kind = kinds[0]
    ops = tuple(
        _op(doc, (*at, "ops", i), o, code_maps, eras)
        for i, o in enumerate(c.seq(doc, (*at, "ops"), node.get("ops", []), nonempty=False))
    )
    rule: dict[str, Any] = {"item": item, "kind": kind, "ops": ops, "line": doc.line(at)}
    if "allow_control" in node:
        from midlayout.text.controls import NAMES

        names = c.seq(doc, (*at, "allow_control"), node["allow_control"])
        rule["allow_control"] = tuple(
            sorted({c.choice(doc, (*at, "allow_control", i), n, tuple(NAMES)) for i, n in enumerate(names)})
        )
    if kind == "from":
        rule["fields"] = (c.text(doc, (*at, "from"), node["from"]),)
    elif kind == "concat":
        rule["fields"] = tuple(
            c.text(doc, (*at, "concat", i), f)
            for i, f in enumerate(c.seq(doc, (*at, "concat"), node["concat"]))
        )
        rule["sep"] = c.text(doc, (*at, "sep"), node.get("sep", ""))
    elif kind == "const":
        rule["const"] = c.text(doc, (*at, "const"), node["const"])
    else:
        lk = c.mapping(doc, (*at, "lookup"), node["lookup"], {"source", "match", "key", "value"}, set())
        other = c.text(doc, (*at, "lookup", "source"), lk["source"])
        try:
            other_fields = {f.id for f in sources.file(other).data_fields}
        except KeyError:
            raise doc.error((*at, "lookup", "source"), f"unknown source file {other!r}") from None
        for k in ("key", "value"):
            if lk[k] not in other_fields:
                raise doc.error((*at, "lookup", k), f"{lk[k]!r} is not a field of source file {other!r}")
        rule["lookup"] = Lookup(
            other, c.text(doc, (*at, "lookup", "match"), lk["match"]), lk["key"], lk["value"]
        )
        rule["fields"] = (lk["match"],)
    for i, f in enumerate(rule.get("fields", ())):
        if f not in source_fields:
            raise doc.error(
                (*at, kind) if kind != "concat" else (*at, "concat", i),
                f"{f!r} is not a field of the source file",
            )
    return ItemRule(**rule)


def _file(
    doc: Doc,
    at: PathKey,
    target_id: str,
    node: Any,
    layout: Layout,
    sources: SourceLayout,
    code_maps: dict[str, CodeMap],
    eras: dict[str, dict[str, str]],
) -> FileMapping:
    node = c.mapping(doc, at, node, {"from", "items"}, {"leave_empty"})
    try:
        target = layout.file(target_id)
    except KeyError:
        raise doc.error(at, f"layout {layout.ref} has no file {target_id!r}") from None
    try:
        src = sources.file(c.text(doc, (*at, "from"), node["from"]))
    except KeyError:
        raise doc.error((*at, "from"), f"unknown source file {node['from']!r}") from None
    items_node = c.mapping(doc, (*at, "items"), node["items"], set(), set(target.item_ids))
    fields = {f.id for f in src.data_fields}
    items = tuple(
        _item(doc, (*at, "items", k), k, v, fields, sources, code_maps, eras) for k, v in items_node.items()
    )
    empty = [c.text(doc, (*at, "leave_empty", i), v) for i, v in enumerate(node.get("leave_empty", []))]
    by_id = {it.id: it for it in target.items}
    for i, item_id in enumerate(empty):
        if item_id not in by_id:
            raise doc.error((*at, "leave_empty", i), f"layout file {target_id!r} has no item {item_id!r}")
        if by_id[item_id].required:
            raise doc.error(
                (*at, "leave_empty", i),
                f"{item_id} ({by_id[item_id].name}) is required in {layout.ref}: map it, it cannot be left empty",
            )
    missing = [i for i in target.item_ids if i not in items_node and i not in empty]
    if missing:
        raise doc.error(
            (*at, "items"),
            f"target items not mapped (map them or list them in leave_empty): {', '.join(missing)}",
        )
    return FileMapping(target_id, src.id, items)


def _sources(doc: Doc, path: Path, node: Any, layouts_root: Path | None) -> tuple[SourceLayout, Path]:
    """`source: source.yaml` (a vendor source layout) or `source: {layout: ID@VERSION}` (a delivery in a
    standard layout, read as `validate` reads one)."""
    if isinstance(node, dict):
        node = c.mapping(doc, ("mapping", "source"), node, {"layout"}, set())
        layout = resolve(c.text(doc, ("mapping", "source", "layout"), node["layout"]), layouts_root)
        return standard_source(layout), layout.path
    source_path = named_file(doc, ("mapping", "source"), c.text(doc, ("mapping", "source"), node))
    if not source_path.is_file():
        raise doc.error(("mapping", "source"), f"source layout not found: {source_path}")
    return load_source(source_path), source_path


def load_mapping(path: Path, layouts_root: Path | None = None) -> Mapping:
    """Load a mapping file, its source layout, its target layout and its code maps; all strictly checked."""
    doc = load_yaml(path)
    top = c.mapping(doc, (), doc.data, {"mapping", "files"}, {"code_maps", "era_schemes", "gaiji"})
    head = c.mapping(doc, ("mapping",), top["mapping"], {"id", "version", "source", "target"}, {"note"})
    layout = resolve(c.text(doc, ("mapping", "target"), head["target"]), layouts_root)
    sources, source_path = _sources(doc, path, head["source"], layouts_root)
    code_maps = {
        name: _load_code_map(
            doc,
            ("code_maps", name),
            named_file(doc, ("code_maps", name), c.text(doc, ("code_maps", name), rel)),
            layout,
        )
        for name, rel in c.mapping(
            doc, ("code_maps",), top.get("code_maps", {}), set(), set(top.get("code_maps") or {})
        ).items()
    }
    eras: dict[str, dict[str, str]] = {}
    for name, scheme in (top.get("era_schemes") or {}).items():
        node = c.mapping(doc, ("era_schemes", name), scheme, set(), set(scheme or {}))
        eras[name] = {str(k): c.choice(doc, ("era_schemes", name, k), v, ERA_KEYS) for k, v in node.items()}
    files_node = c.mapping(doc, ("files",), top["files"], set(), set(top["files"] or {}))
    files = tuple(
        _file(doc, ("files", k), k, v, layout, sources, code_maps, eras) for k, v in files_node.items()
    )
    primaries = [f.source for f in files]
    for i, s in enumerate(primaries):
        if s in primaries[:i]:
            raise doc.error(
                ("files",), f"source file {s!r} feeds two target files; each input feeds exactly one"
            )
    gaiji = _gaiji(doc, path, top.get("gaiji"))
    return Mapping(
        gaiji=gaiji,
        id=c.text(doc, ("mapping", "id"), head["id"]),
        version=c.text(doc, ("mapping", "version"), head["version"]),
        target=layout,
        source=sources,
        files=files,
        code_maps=code_maps,
        era_schemes=eras,
        path=path,
        sha256=sha256_file(path),
        extra_files=(
            source_path,
            *(m.path for m in code_maps.values()),
            *((gaiji.table.path,) if gaiji.table else ()),
        ),
    )


def _gaiji(doc: Doc, path: Path, node: Any) -> GaijiOptions:
    """`gaiji: {table: gaiji.csv, encoding: cp932, unmapped: reject|flag}`.

    The table's codes are bytes in `encoding`: it applies to the source files in that encoding (to all
    of them when `encoding` is not given, and then every code must decode in each).
    """
    if node is None:
        return GaijiOptions()
    node = c.mapping(doc, ("gaiji",), node, set(), {"table", "unmapped", "encoding"})
    encoding = None
    if "encoding" in node:
        encoding = c.choice(doc, ("gaiji", "encoding"), node["encoding"], SOURCE_ENCODINGS)
        encoding = canonical(encoding)
    unmapped = c.choice(doc, ("gaiji", "unmapped"), node.get("unmapped", "reject"), UNMAPPED_POLICIES)
    table = None
    if "table" in node:
        table_path = named_file(doc, ("gaiji", "table"), c.text(doc, ("gaiji", "table"), node["table"]))
        if not table_path.is_file():
            raise doc.error(("gaiji", "table"), f"外字 table not found: {table_path}")
        table = load_gaiji_table(table_path)
    return GaijiOptions(table, unmapped, encoding)
