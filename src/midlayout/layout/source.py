"""Vendor source layouts: how a legacy extract is cut into fields (fixed-width by bytes, or CSV)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.standard import sha256_file
from midlayout.layout.yamlfile import Doc, PathKey, load_yaml

SOURCE_ENCODINGS = ("cp932", "shift_jis", "euc-jp", "utf-8", "utf-8-sig")
FIELD_TYPES = ("text", "zoned")
TERMINATORS = {"crlf": b"\r\n", "lf": b"\n", "none": b""}


@dataclass(frozen=True)
class SourceField:
    """One field of a vendor record. For fixed-width, `start` is a 0-based byte offset in the record."""

    id: str
    type: str
    start: int = 0
    length: int = 0
    column: str = ""


@dataclass(frozen=True)
class SourceFile:
    """One vendor extract file and how to read it."""

    id: str
    name: str
    format: str  # "fixed" or "csv"
    encoding: str
    match: str
    fields: tuple[SourceField, ...]
    record_length: int = 0
    terminator: bytes = b""
    delimiter: str = ","
    quote: str = '"'

    def field(self, field_id: str) -> SourceField:
        """The field called `field_id`; KeyError if absent."""
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)


@dataclass(frozen=True)
class SourceLayout:
    """All extract files of one fictional vendor system."""

    vendor: str
    name: str
    files: tuple[SourceFile, ...]
    path: Path
    sha256: str

    def file(self, file_id: str) -> SourceFile:
        """The file called `file_id`; KeyError if absent."""
        for f in self.files:
            if f.id == file_id:
                return f
        raise KeyError(file_id)


def _fixed_fields(doc: Doc, at: PathKey, node: dict[str, Any], base: int, reclen: int) -> tuple[SourceField, ...]:
    fields = []
    for i, raw in enumerate(c.seq(doc, (*at, "fields"), node["fields"])):
        fat = (*at, "fields", i)
        f = c.mapping(doc, fat, raw, {"id", "start", "length"}, {"type", "note"})
        start = c.positive(doc, (*fat, "start"), f["start"], minimum=base) - base
        length = c.positive(doc, (*fat, "length"), f["length"])
        if start + length > reclen:
            raise doc.error(fat, f"field ends at byte {start + length} past the record length {reclen}")
        typ = c.choice(doc, (*fat, "type"), f.get("type", "text"), FIELD_TYPES)
        fields.append(SourceField(c.ident(doc, (*fat, "id"), f["id"]), typ, start, length))
    spans = sorted((f.start, f.start + f.length, f.id) for f in fields)
    for (_, end_a, id_a), (start_b, _, id_b) in itertools.pairwise(spans):
        if start_b < end_a:
            raise doc.error((*at, "fields"), f"fields {id_a} and {id_b} overlap")
    return tuple(fields)


def _csv_fields(doc: Doc, at: PathKey, node: dict[str, Any]) -> tuple[SourceField, ...]:
    fields = []
    for i, raw in enumerate(c.seq(doc, (*at, "fields"), node["fields"])):
        fat = (*at, "fields", i)
        f = c.mapping(doc, fat, raw, {"id", "column"}, {"type", "note"})
        typ = c.choice(doc, (*fat, "type"), f.get("type", "text"), FIELD_TYPES)
        fields.append(SourceField(c.ident(doc, (*fat, "id"), f["id"]), typ, column=c.text(doc, (*fat, "column"), f["column"])))
    return tuple(fields)


_COMMON = {"id", "name", "format", "encoding", "match", "fields"}
_FIXED = {"record_length", "terminator", "offset_base", "note"}
_CSV = {"delimiter", "quote", "header", "note"}


def _file(doc: Doc, at: PathKey, node: Any) -> SourceFile:
    fmt = c.choice(doc, (*at, "format"), (node or {}).get("format") if isinstance(node, dict) else None, ("fixed", "csv"))
    if fmt == "fixed":
        node = c.mapping(doc, at, node, _COMMON | {"record_length", "terminator", "offset_base"}, {"note"})
        base = node["offset_base"]
        if base not in (0, 1):
            raise doc.error((*at, "offset_base"), "offset_base must be 0 or 1")
        reclen = c.positive(doc, (*at, "record_length"), node["record_length"])
        term = c.choice(doc, (*at, "terminator"), node["terminator"], tuple(TERMINATORS))
        fields = _fixed_fields(doc, at, node, base, reclen)
        extra = {"record_length": reclen, "terminator": TERMINATORS[term]}
    else:
        node = c.mapping(doc, at, node, _COMMON | {"header"}, _CSV - {"header"})
        if node["header"] is not True:
            raise doc.error((*at, "header"), "only CSV with a header row is supported")
        fields = _csv_fields(doc, at, node)
        extra = {"delimiter": c.text(doc, (*at, "delimiter"), node.get("delimiter", ",")),
                 "quote": c.text(doc, (*at, "quote"), node.get("quote", '"'))}
    return SourceFile(
        id=c.ident(doc, (*at, "id"), node["id"]),
        name=c.text(doc, (*at, "name"), node["name"]),
        format=fmt,
        encoding=c.choice(doc, (*at, "encoding"), node["encoding"], SOURCE_ENCODINGS),
        match=c.text(doc, (*at, "match"), node["match"]),
        fields=fields,
        **extra,  # type: ignore[arg-type]
    )


def load_source(path: Path) -> SourceLayout:
    """Load a vendor source layout file; DefinitionError with file:line on any fault."""
    doc = load_yaml(path)
    node = c.mapping(doc, (), doc.data, {"vendor", "name", "files"}, {"note"})
    files = tuple(_file(doc, ("files", i), n) for i, n in enumerate(c.seq(doc, ("files",), node["files"])))
    return SourceLayout(c.ident(doc, ("vendor",), node["vendor"]), c.text(doc, ("name",), node["name"]), files, path, sha256_file(path))
