"""Control characters in text items: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).

A fixed-width 住所 with a TAB, CR, LF or NUL in it, or a CP932 0x80 (which decodes to U+0080), would pass
into the standard CSV, Parquet and DuckDB and break or hide itself in a target system or a spreadsheet.
They are a reject (`control_char`) unless the mapping names the ones an item may hold:
``allow_control: [lf]`` (the names are in `NAMES`).
"""

from __future__ import annotations

import re

from midlayout.text.ivs import char_index

NAMES = {"tab": "\t", "lf": "\n", "cr": "\r", "ff": "\x0c", "vt": "\x0b"}
_ALL = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
_SHORT = {"\t": "TAB", "\n": "LF", "\r": "CR", "\x00": "NUL", "\x7f": "DEL", "\x0c": "FF", "\x0b": "VT"}


def allowed_chars(names: tuple[str, ...] | frozenset[str]) -> str:
    """The characters `names` (tab, lf, cr, ff, vt) stand for, in a stable order."""
    return "".join(sorted(NAMES[n] for n in names))


def pattern(allowed: str = "") -> str:
    """A regex class (Rust and Python syntax) of the control characters not in `allowed`."""
    banned = [ch for ch in _ALL if ch not in allowed]
    return (
        "["
        + "".join(f"\\x{{{ord(ch):04X}}}" if ord(ch) > 0xFF else f"\\x{ord(ch):02X}" for ch in banned)
        + "]"
    )


def found(value: str, allowed: str = "") -> list[tuple[int, str]]:
    """(index, character) of each banned control character in `value`."""
    rx = re.compile(pattern(allowed))
    return [(m.start(), m.group()) for m in rx.finditer(value)]


def message(value: str, allowed: str, encoding: str) -> str:
    """`control character U+0009 (TAB) at char 3, byte 2 in cp932`: codes and places, never the value."""
    parts = []
    for i, ch in found(value, allowed):
        byte = len(value[:i].encode(encoding, errors="replace"))
        name = f" ({_SHORT[ch]})" if ch in _SHORT else ""
        parts.append(f"U+{ord(ch):04X}{name} at char {char_index(value, i) + 1}, byte {byte} in {encoding}")
    return "control character " + "; ".join(parts)
