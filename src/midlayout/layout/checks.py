"""Small strict checks on loaded YAML nodes; every failure names the file and line."""

from __future__ import annotations

import difflib
import re
from typing import Any

from midlayout.layout.yamlfile import Doc, PathKey

ASCII_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def mapping(doc: Doc, at: PathKey, node: Any, required: set[str], optional: set[str]) -> dict[str, Any]:
    """`node` must be a mapping with all of `required` and nothing outside `required | optional`."""
    if not isinstance(node, dict):
        raise doc.error(at, f"expected a mapping, got {type(node).__name__}")
    missing = sorted(required - node.keys())
    unknown = sorted(node.keys() - required - optional, key=str)
    if unknown:  # before `missing`: a typo (`mapings:`) is named as such, with the key it probably means
        allowed = ", ".join(sorted(required | optional))
        near = difflib.get_close_matches(str(unknown[0]), sorted(required | optional), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise doc.error((*at, unknown[0]), f"unknown key {unknown[0]!r} ({hint}allowed: {allowed})")
    if missing:
        raise doc.error(at, f"missing key(s): {', '.join(missing)}")
    return node


def seq(doc: Doc, at: PathKey, node: Any, nonempty: bool = True) -> list[Any]:
    """`node` must be a list (non-empty unless told)."""
    if not isinstance(node, list):
        raise doc.error(at, f"expected a list, got {type(node).__name__}")
    if nonempty and not node:
        raise doc.error(at, "must not be empty")
    return node


def text(doc: Doc, at: PathKey, node: Any) -> str:
    """`node` must be a string (numbers are refused, so codes like 02 keep their zeros)."""
    if not isinstance(node, str):
        raise doc.error(at, f"expected a string, got {type(node).__name__} {node!r} (quote it)")
    return node


# C0 and C1 controls (CR, LF, TAB, ESC ...), DEL, and the Unicode line and paragraph separators.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name(doc: Doc, at: PathKey, node: Any) -> str:
    """`node` must be a display name on one line: a 項目名称 heads a column of the standard CSV (read back as one
    line by audit) and names an item in terminal lines, so a line break or control character is refused."""
    value = text(doc, at, node)
    found = CONTROL.search(value)
    if found:
        raise doc.error(
            at,
            f"a name with a line break or control character (U+{ord(found.group()):04X}): write it on one line",
        )
    return value


def ident(doc: Doc, at: PathKey, node: Any) -> str:
    """`node` must be an ASCII identifier."""
    value = text(doc, at, node)
    if not ASCII_ID.match(value):
        raise doc.error(at, f"{value!r} is not an ASCII identifier")
    return value


def positive(doc: Doc, at: PathKey, node: Any, minimum: int = 1) -> int:
    """`node` must be an integer >= minimum."""
    if not isinstance(node, int) or isinstance(node, bool) or node < minimum:
        raise doc.error(at, f"expected an integer >= {minimum}, got {node!r}")
    return node


def choice(doc: Doc, at: PathKey, node: Any, options: tuple[str, ...]) -> str:
    """`node` must be one of `options`."""
    value = text(doc, at, node)
    if value not in options:
        raise doc.error(at, f"{value!r} is not one of {', '.join(options)}")
    return value


def flag(doc: Doc, at: PathKey, node: Any) -> bool:
    """`node` must be true or false."""
    if not isinstance(node, bool):
        raise doc.error(at, f"expected true or false, got {node!r}")
    return node
