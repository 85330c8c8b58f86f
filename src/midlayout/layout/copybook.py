"""A COBOL copybook as a list of fixed-width fields (the subset record layouts use), with the line of each.

The `copybook` package on PyPI was tried first: it does not parse PIC N, sizes `S9(7)V99 COMP-3` as 9
bytes (it is 5) and accepts REDEFINES silently, so this is a small parser of its own, held by a grammar
test. Supported: levels 01-49 and 77, PIC/PICTURE X, A, N, G, 9, S, V (and edited pictures as text),
USAGE DISPLAY, DISPLAY-1, NATIONAL, COMP-3/PACKED-DECIMAL, COMP/COMP-4/COMP-5/BINARY (also on a group),
OCCURS n [TIMES] (expanded with indexed names), FILLER, VALUE, level 88 (kept as a note). REDEFINES is
refused with its line unless `redefines="first"` (the first definition is kept); RENAMES (66), SIGN
SEPARATE, P scaling and OCCURS DEPENDING ON are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from midlayout.errors import DefinitionError, Location


@dataclass(frozen=True)
class CobolField:
    """One elementary item as laid out: 0-based byte start, length, and how the reader decodes it."""

    name: str
    start: int
    length: int
    type: str  # text | dbcs | zoned | packed | binary | filler
    signed: bool = False
    scale: int = 0
    line: int = 0
    notes: tuple[str, ...] = ()


@dataclass
class _Node:
    level: int
    name: str
    line: int
    pic: str = ""
    usage: str = ""
    occurs: int = 1
    redefines: str = ""
    children: list[_Node] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_USAGES = {
    "DISPLAY": "display",
    "DISPLAY-1": "display",
    "NATIONAL": "display",
    "COMP-3": "packed",
    "COMPUTATIONAL-3": "packed",
    "PACKED-DECIMAL": "packed",
    "COMP": "binary",
    "COMP-4": "binary",
    "COMP-5": "binary",
    "COMPUTATIONAL": "binary",
    "COMPUTATIONAL-4": "binary",
    "COMPUTATIONAL-5": "binary",
    "BINARY": "binary",
}
# The most elementary items an import expands a record to (OCCURS multiplies): far beyond any real record, and a
# typo such as OCCURS 99999999 is refused at once instead of expanding for minutes.
MAX_FIELDS = 100_000

_IGNORED = {"SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "RIGHT", "LEFT", "GLOBAL", "EXTERNAL"}


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) with sequence areas, indicator column and comments removed."""
    out = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if len(line) >= 7 and (line[:6].isdigit() or not line[:6].strip()):
            if line[6:7] in ("*", "/"):
                continue
            line = line[7:72]
        if line.strip().startswith("*"):
            continue
        if line.strip():
            out.append((no, line))
    return out


def _statements(text: str) -> list[tuple[int, list[str]]]:
    """(line of its first token, tokens) per period-terminated entry; quoted literals stay one token."""
    tokens: list[tuple[int, str]] = []
    for no, line in _lines(text):
        tokens += [(no, t) for t in re.findall(r"'[^']*'|\"[^\"]*\"|[^\s]+", line)]
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for no, tok in tokens:
        if not current:
            first = no
        ends = tok.endswith(".") and not tok.startswith(("'", '"'))
        current.append(tok[:-1] if ends and len(tok) > 1 else tok)
        if ends:
            if current[-1] == ".":
                current.pop()
            out.append((first, current))
            current = []
    if current:
        out.append((first, current))
    return out


class CopybookError(DefinitionError):
    """A copybook entry midlayout cannot lay out; names the line."""


def _err(path: Path, line: int, message: str) -> CopybookError:
    return CopybookError(message, Location(file=str(path), line=line))


def _entry(path: Path, line: int, toks: list[str]) -> _Node | None:
    if not toks[0].isdigit():
        raise _err(path, line, f"expected a level number, got {toks[0]!r}")
    level = int(toks[0])
    if level == 66:
        raise _err(path, line, "RENAMES (level 66) is not supported")
    rest = toks[1:]
    name = "FILLER"
    if (
        rest
        and rest[0].upper() not in ("PIC", "PICTURE", "REDEFINES", "OCCURS", "USAGE", "VALUE", "VALUES")
        and rest[0].upper() not in _USAGES
    ):
        name, rest = rest[0], rest[1:]
    node = _Node(level, name, line)
    i = 0
    while i < len(rest):
        word = rest[i].upper()
        if word in ("PIC", "PICTURE"):
            i += 1
            if i < len(rest) and rest[i].upper() == "IS":
                i += 1
            node.pic = rest[i].upper() if i < len(rest) else ""
        elif word == "USAGE":
            i += 1
            if i < len(rest) and rest[i].upper() == "IS":
                i += 1
            node.usage = _USAGES.get(rest[i].upper(), "") if i < len(rest) else ""
            if not node.usage:
                raise _err(path, line, f"USAGE {rest[i] if i < len(rest) else ''} is not supported")
        elif word in _USAGES:
            node.usage = _USAGES[word]
        elif word == "OCCURS":
            i += 1
            if i >= len(rest) or not rest[i].isdigit():
                raise _err(path, line, "OCCURS needs a count")
            node.occurs = int(rest[i])
            if not 1 <= node.occurs <= MAX_FIELDS:
                raise _err(path, line, f"OCCURS {node.occurs}: the count must be 1 to {MAX_FIELDS:,}")
            if i + 1 < len(rest) and rest[i + 1].upper() == "TO":
                raise _err(path, line, "OCCURS … DEPENDING ON (a variable-length record) is not supported")
            if i + 1 < len(rest) and rest[i + 1].upper() == "TIMES":
                i += 1
        elif word == "REDEFINES":
            i += 1
            node.redefines = rest[i] if i < len(rest) else "?"
        elif word in ("VALUE", "VALUES"):
            node.notes.append("VALUE " + " ".join(rest[i + 1 :]))
            break
        elif word == "SIGN":
            raise _err(path, line, "SIGN … SEPARATE is not supported (the zoned decoders read an overpunch)")
        elif word in _IGNORED or word == "IS":
            pass
        else:
            raise _err(path, line, f"{rest[i]!r} is not a clause this parser knows")
        i += 1
    return node


def _expand_pic(pic: str) -> str:
    return re.sub(r"(.)\((\d+)\)", lambda m: m[1] * int(m[2]), pic)


def _elementary(path: Path, node: _Node, usage: str) -> tuple[str, int, bool, int]:
    """(type, length, signed, scale) of an elementary item."""
    pic = _expand_pic(node.pic)
    if set(pic) <= set("XA"):
        if usage not in ("", "display"):
            raise _err(path, node.line, f"PIC {node.pic} cannot be {usage}")
        return "text", len(pic), False, 0
    if set(pic) <= set("NG"):
        return "dbcs", 2 * len(pic), False, 0
    if re.fullmatch(r"S?9*(V9*)?", pic) and "9" in pic:
        digits = pic.count("9")
        scale = len(pic.split("V")[1]) if "V" in pic else 0
        signed = pic.startswith("S")
        if usage == "packed":
            return "packed", digits // 2 + 1, signed, scale
        if usage == "binary":
            if digits > 18:
                raise _err(path, node.line, f"PIC {node.pic} BINARY has more than 18 digits")
            return "binary", 2 if digits <= 4 else 4 if digits <= 9 else 8, signed, scale
        return "zoned", digits, signed, scale
    if "P" in pic:
        raise _err(path, node.line, f"PIC {node.pic}: P scaling is not supported")
    if re.fullmatch(r"[Z9,.\-+B0/*$]+|[Z9,.\-+B0/*$]+(CR|DB)", pic):
        return "text", len(pic), False, 0  # an edited picture is display text
    raise _err(path, node.line, f"PIC {node.pic} is not supported")


def _tree(path: Path, entries: list[_Node]) -> _Node:
    records = [e for e in entries if e.level in (1, 77)]
    if not entries or entries[0].level not in (1, 77):
        raise _err(path, entries[0].line if entries else 1, "a copybook starts with an 01 record")
    if len(records) > 1:
        raise _err(path, records[1].line, "a second 01 record: one copybook describes one record layout")
    root = entries[0]
    stack = [root]
    for e in entries[1:]:
        if e.level == 88:
            stack[-1].notes.append(f"88 {e.name} {' '.join(e.notes)}".strip())
            continue
        while stack and stack[-1].level >= e.level:
            stack.pop()
        if not stack:
            raise _err(path, e.line, f"level {e.level:02d} is outside the 01 record")
        if stack[-1].pic:
            raise _err(path, e.line, f"{stack[-1].name} has a PICTURE and cannot hold items")
        stack[-1].children.append(e)
        stack.append(e)
    return root


def parse_copybook(path: Path, text: str, redefines: str | None = None) -> tuple[str, list[CobolField]]:
    """(record name, fields in record order with 0-based starts); CopybookError naming the line."""
    entries = [n for line, toks in _statements(text) if (n := _entry(path, line, toks)) is not None]
    root = _tree(path, entries)
    fields: list[CobolField] = []

    def walk(node: _Node, usage: str, suffix: str, offset: int) -> int:
        usage = node.usage or usage
        if node.redefines:
            if redefines != "first":
                raise _err(
                    path,
                    node.line,
                    f"{node.name} REDEFINES {node.redefines}: pass --redefines first to keep the first definition",
                )
            return offset
        for k in range(node.occurs):
            sfx = suffix + (f"_{k + 1}" if node.occurs > 1 else "")
            if node.children:
                for child in node.children:
                    offset = walk(child, usage, sfx, offset)
            elif node.pic:
                if len(fields) >= MAX_FIELDS:
                    raise _err(
                        path, node.line, f"the record expands to more than {MAX_FIELDS:,} items (OCCURS)"
                    )
                typ, length, signed, scale = _elementary(path, node, usage)
                name = node.name + sfx
                if node.name.upper() == "FILLER":
                    typ = "filler"
                fields.append(
                    CobolField(name, offset, length, typ, signed, scale, node.line, tuple(node.notes))
                )
                offset += length
            else:
                raise _err(path, node.line, f"{node.name} has neither a PICTURE nor subordinate items")
        return offset

    end = walk(root, "", "", 0) if root.children or root.pic else 0
    if not fields:
        raise _err(path, root.line, "the record has no elementary items")
    assert end == sum(f.length for f in fields)
    return root.name, fields
