"""Vendor source layouts: how a legacy extract is cut into fields (fixed-width by bytes, or CSV)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.standard import sha256_file
from midlayout.layout.yamlfile import Doc, PathKey, load_yaml
from midlayout.text.encodings import (
    EBCDIC_ENCODINGS,
    HOST_ENCODINGS,
    MAINFRAME_ENCODINGS,
    SOURCE_ENCODINGS,
    ZONED_EBCDIC_ENCODINGS,
    canonical,
)

FIELD_TYPES = ("text", "zoned")
# Mainframe numerics exist only in fixed-width records.
FIXED_FIELD_TYPES = ("text", "dbcs", "zoned", "zoned_ebcdic", "packed", "binary", "filler")
# Shift-less double-byte text (COBOL PIC N / PIC G): the encodings that have a decoder for it
# (readers/dbcs.py registers one per encoding).
DBCS_ENCODINGS = ("cp932", "shift_jis", "euc-jp", *EBCDIC_ENCODINGS, *MAINFRAME_ENCODINGS)
NUMERIC_TYPES = ("zoned", "zoned_ebcdic", "packed", "binary")
TERMINATORS = {"crlf": b"\r\n", "lf": b"\n", "none": b""}


@dataclass(frozen=True)
class SourceField:
    """One field of a vendor record. For fixed-width, `start` is a 0-based byte offset in the record."""

    id: str
    type: str
    start: int = 0
    length: int = 0
    column: str = ""
    signed: bool = True  # binary only
    byteorder: str = "big"  # binary only
    scale: int = 0  # numerics: implied decimal places (COBOL V); the value read is value × 10**-scale


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
    terminator_auto: bool = False  # `terminator: auto`: CRLF, LF or none, found before reading (preflight)
    delimiter: str = ","
    quote: str = '"'
    bare_quotes: str = "reject"  # CSV: a quote inside an unquoted field is a reject, or "literal" text
    gaiji_ranges: tuple[tuple[bytes, bytes], ...] = ()

    def field(self, field_id: str) -> SourceField:
        """The field called `field_id`; KeyError if absent."""
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    @property
    def data_fields(self) -> tuple[SourceField, ...]:
        """The fields that are read (fillers are declared, never read)."""
        return tuple(f for f in self.fields if f.type != "filler")


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


def _fixed_fields(
    doc: Doc, at: PathKey, node: dict[str, Any], base: int, reclen: int
) -> tuple[SourceField, ...]:
    fields = []
    for i, raw in enumerate(c.seq(doc, (*at, "fields"), node["fields"])):
        fat = (*at, "fields", i)
        f = c.mapping(
            doc, fat, raw, {"id", "start", "length"}, {"type", "note", "signed", "byteorder", "scale"}
        )
        start = c.positive(doc, (*fat, "start"), f["start"], minimum=base) - base
        length = c.positive(doc, (*fat, "length"), f["length"])
        if start + length > reclen:
            raise doc.error(fat, f"field ends at byte {start + length} past the record length {reclen}")
        typ = c.choice(doc, (*fat, "type"), f.get("type", "text"), FIXED_FIELD_TYPES)
        fields.append(
            _numeric_checks(doc, fat, f, SourceField(c.ident(doc, (*fat, "id"), f["id"]), typ, start, length))
        )
    spans = sorted((f.start, f.start + f.length, f.id) for f in fields)
    for (_, end_a, id_a), (start_b, _, id_b) in itertools.pairwise(spans):
        if start_b < end_a:
            raise doc.error((*at, "fields"), f"fields {id_a} and {id_b} overlap")
    return tuple(fields)


def _check_gaps(doc: Doc, at: PathKey, spans: list[tuple[int, int, str]], base: int, reclen: int) -> None:
    """Every byte of a record belongs to a field: unread bytes are declared, as `type: filler`."""
    edges = [(0, "the record start"), *((end, f"field {fid}") for _, end, fid in spans)]
    nexts = [*(start for start, _, _ in spans), reclen]
    for (end, after), start in zip(edges, nexts, strict=True):
        if start > end:
            raise doc.error(
                (*at, "fields"),
                f"bytes {end + base} to {start - 1 + base} (after {after}) belong to no field: "
                "declare them, as `type: filler` if they are unused",
            )


def _numeric_checks(doc: Doc, at: PathKey, node: dict[str, Any], field: SourceField) -> SourceField:
    """Widths the decoders can hold, and binary-only options only on binary fields."""
    if "scale" in node:
        if field.type not in NUMERIC_TYPES:
            raise doc.error((*at, "scale"), "only numeric fields (zoned, packed, binary) take `scale:`")
        scale = c.positive(doc, (*at, "scale"), node["scale"], minimum=0)
        field = SourceField(field.id, field.type, field.start, field.length, scale=scale)
    if field.type == "dbcs" and field.length % 2:
        raise doc.error((*at, "length"), "a dbcs field holds 2-byte characters: its length is even")
    if field.type == "binary":
        if field.length not in (2, 4, 8):
            raise doc.error((*at, "length"), "a binary field is 2, 4 or 8 bytes long")
        signed = c.flag(doc, (*at, "signed"), node.get("signed", True))
        order = c.choice(doc, (*at, "byteorder"), node.get("byteorder", "big"), ("big", "little"))
        return SourceField(
            field.id,
            field.type,
            field.start,
            field.length,
            signed=signed,
            byteorder=order,
            scale=field.scale,
        )
    for key in ("signed", "byteorder"):
        if key in node:
            raise doc.error((*at, key), f"only binary fields take {key!r}")
    digits = field.length * 2 - 1 if field.type == "packed" else field.length
    if field.type in NUMERIC_TYPES and digits > 18:
        raise doc.error((*at, "length"), f"{digits} digits do not fit a 64-bit integer (at most 18)")
    return field


def _gaiji_ranges(doc: Doc, at: PathKey, node: Any) -> tuple[tuple[bytes, bytes], ...]:
    """`gaiji_ranges: ["F040-F9FC", "FA40"]`: source byte codes (hex) the vendor used for 外字."""
    out = []
    for i, raw in enumerate(c.seq(doc, at, node)):
        text = c.text(doc, (*at, i), raw).replace(" ", "")
        parts = text.split("-")
        try:
            lo, hi = bytes.fromhex(parts[0]), bytes.fromhex(parts[-1])
        except ValueError:
            raise doc.error((*at, i), f"{text!r} is not HEX or HEX-HEX") from None
        if len(parts) > 2 or not lo or len(lo) != len(hi) or lo > hi or len(lo) > 4:
            raise doc.error(
                (*at, i), f"{text!r}: a range is LOW-HIGH of equal byte length (1 to 4), low first"
            )
        if int.from_bytes(hi) - int.from_bytes(lo) > 0xFFFF:
            raise doc.error((*at, i), f"{text!r} spans more than 65536 codes")
        out.append((lo, hi))
    return tuple(out)


def _csv_fields(doc: Doc, at: PathKey, node: dict[str, Any]) -> tuple[SourceField, ...]:
    fields = []
    for i, raw in enumerate(c.seq(doc, (*at, "fields"), node["fields"])):
        fat = (*at, "fields", i)
        f = c.mapping(doc, fat, raw, {"id", "column"}, {"type", "note"})
        typ = c.choice(doc, (*fat, "type"), f.get("type", "text"), FIELD_TYPES)
        fields.append(
            SourceField(
                c.ident(doc, (*fat, "id"), f["id"]), typ, column=c.text(doc, (*fat, "column"), f["column"])
            )
        )
    return tuple(fields)


_COMMON = {"id", "name", "format", "encoding", "match", "fields"}
_FIXED = {"record_length", "terminator", "offset_base", "note"}
_CSV = {"delimiter", "quote", "bare_quotes", "header", "note"}
_OPTIONAL = {"note", "gaiji_ranges"}


def _file(doc: Doc, at: PathKey, node: Any) -> SourceFile:
    fmt = c.choice(
        doc, (*at, "format"), (node or {}).get("format") if isinstance(node, dict) else None, ("fixed", "csv")
    )
    if fmt == "fixed":
        node = c.mapping(doc, at, node, _COMMON | {"record_length", "terminator", "offset_base"}, _OPTIONAL)
        base = node["offset_base"]
        if base not in (0, 1):
            raise doc.error((*at, "offset_base"), "offset_base must be 0 or 1")
        reclen = c.positive(doc, (*at, "record_length"), node["record_length"])
        term = c.choice(doc, (*at, "terminator"), node["terminator"], (*TERMINATORS, "auto"))
        fields = _fixed_fields(doc, at, node, base, reclen)
        extra = {
            "record_length": reclen,
            "terminator": TERMINATORS.get(term, b""),
            "terminator_auto": term == "auto",
        }
    else:
        node = c.mapping(doc, at, node, _COMMON | {"header"}, (_CSV - {"header"}) | _OPTIONAL)
        if node["header"] is not True:
            raise doc.error((*at, "header"), "only CSV with a header row is supported")
        fields = _csv_fields(doc, at, node)
        extra = {
            "delimiter": c.text(doc, (*at, "delimiter"), node.get("delimiter", ",")),
            "quote": c.text(doc, (*at, "quote"), node.get("quote", '"')),
            "bare_quotes": c.choice(
                doc, (*at, "bare_quotes"), node.get("bare_quotes", "reject"), ("reject", "literal")
            ),
        }
    encoding = c.choice(doc, (*at, "encoding"), node["encoding"], SOURCE_ENCODINGS)
    encoding = canonical(encoding)
    if encoding in HOST_ENCODINGS and fmt == "csv":
        raise doc.error((*at, "encoding"), "EBCDIC extracts are fixed-width; CSV in EBCDIC is not supported")
    if encoding in HOST_ENCODINGS and terminator_of(node) != b"":
        raise doc.error((*at, "terminator"), "EBCDIC records have no CR/LF: use terminator: none")
    zoned_ebcdic = encoding in ZONED_EBCDIC_ENCODINGS
    misfit = {"zoned": zoned_ebcdic, "zoned_ebcdic": not zoned_ebcdic}
    for i, f in enumerate(fields):
        if f.type == "dbcs" and encoding not in DBCS_ENCODINGS:
            raise doc.error(
                (*at, "fields", i, "type"),
                f"dbcs (shift-less double-byte) is not defined for {encoding}: one of "
                + ", ".join(DBCS_ENCODINGS),
            )
    for i, f in enumerate(fields):
        if misfit.get(f.type):
            want = "zoned_ebcdic" if f.type == "zoned" else "zoned"
            raise doc.error(
                (*at, "fields", i, "type"), f"{f.type} does not fit encoding {encoding}: use {want}"
            )
    if "gaiji_ranges" in node:
        extra["gaiji_ranges"] = _gaiji_ranges(doc, (*at, "gaiji_ranges"), node["gaiji_ranges"])
    if fmt == "fixed":  # last, so that a misfit field is named as such before the bytes it leaves
        spans = sorted((f.start, f.start + f.length, f.id) for f in fields)
        _check_gaps(doc, at, spans, node["offset_base"], extra["record_length"])  # type: ignore[arg-type]
    return SourceFile(
        id=c.ident(doc, (*at, "id"), node["id"]),
        name=c.text(doc, (*at, "name"), node["name"]),
        format=fmt,
        encoding=encoding,
        match=c.text(doc, (*at, "match"), node["match"]),
        fields=fields,
        **extra,  # type: ignore[arg-type]
    )


def terminator_of(node: dict[str, Any]) -> bytes:
    """The declared terminator of a fixed-width file node (already validated)."""
    return TERMINATORS.get(node.get("terminator", "none"), b"")


def load_source(path: Path) -> SourceLayout:
    """Load a vendor source layout file; DefinitionError with file:line on any fault."""
    doc = load_yaml(path)
    node = c.mapping(doc, (), doc.data, {"vendor", "name", "files"}, {"note"})
    files = tuple(_file(doc, ("files", i), n) for i, n in enumerate(c.seq(doc, ("files",), node["files"])))
    return SourceLayout(
        c.ident(doc, ("vendor",), node["vendor"]),
        c.text(doc, ("name",), node["name"]),
        files,
        path,
        sha256_file(path),
    )
