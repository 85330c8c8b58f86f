"""Encoding names in one table: what a definition may name, the Python codec each means, what a detector's
guess means, and byte lengths and offsets in an encoding.

"sjis" is what vendors write, and what they mean is CP932 (Windows-31J); "shift_jis" is the strict JIS one.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from midlayout.text import ebcdic, mainframe

EBCDIC_ENCODINGS: Final = tuple(ebcdic.CHARSETS)  # the IBM host code pages (stateful, SO/SI)
MAINFRAME_ENCODINGS: Final = tuple(mainframe.CODECS)  # Fujitsu JEF, Hitachi KEIS, NEC JIPS (text/mainframe)
# Host extracts: fixed-width records without CR/LF. Zoned numbers are EBCDIC in all but the ASCII-based ones.
HOST_ENCODINGS: Final = (*EBCDIC_ENCODINGS, *MAINFRAME_ENCODINGS)
ZONED_EBCDIC_ENCODINGS: Final = (*EBCDIC_ENCODINGS, *(n for n, c in mainframe.CODECS.items() if c.ebcdic))
LAYOUT_ENCODINGS: Final = ("cp932", "shift_jis", "euc-jp", "utf-8", "utf-8-sig")  # a standard layout's
SOURCE_ENCODINGS: Final = (
    "cp932",
    "sjis",
    "shift_jis",
    "euc-jp",
    "utf-8",
    "utf-8-sig",
    *EBCDIC_ENCODINGS,
    *MAINFRAME_ENCODINGS,
)
ALIASES: Final = {"sjis": "cp932"}  # a name a definition may use → the encoding it means
CODECS: Final = {  # encoding (or alias) → Python codec
    "cp932": "cp932",
    "sjis": "cp932",
    "shift_jis": "shift_jis",
    "euc-jp": "euc_jp",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    **{name: name for name in EBCDIC_ENCODINGS},
    **{name: name for name in MAINFRAME_ENCODINGS},
}
DETECTED: Final = {  # chardet's guess → the encoding it stands for here (CP932 is the superset vendors use)
    "shift_jis": "cp932",
    "cp932": "cp932",
    "windows-31j": "cp932",
    "euc-jp": "euc-jp",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "ascii": "utf-8",
}


def canonical(name: str) -> str:
    """The encoding `name` means (`sjis` → `cp932`)."""
    return ALIASES.get(name, name)


# In CP932 / Shift_JIS, ASCII and half-width katakana take one byte; every other encodable character two.
_MULTI_BYTE = {
    "cp932": r"[^\x00-\x7F\x{FF61}-\x{FF9F}]",
    "shift_jis": r"[^\x00-\x7F\x{FF61}-\x{FF9F}]",
    "euc-jp": r"[^\x00-\x7F]",
}


def byte_length(expr: pl.Expr, encoding: str) -> pl.Expr:
    """Length in bytes of each string once encoded in `encoding` (EUC-JP: JIS X 0212 counted as 2)."""
    if encoding.startswith("utf-8"):
        return expr.str.len_bytes()
    return expr.str.len_chars() + expr.str.count_matches(_MULTI_BYTE[encoding])


def byte_offset(text: str, index: int, codec: str, shifted: bool = True) -> int:
    """Byte offset of ``text[index]`` once `text` is encoded in `codec` (error paths only).

    `shifted=False`: a JEF/KEIS/JIPS pure double-byte field (no shift codes).
    """
    if codec in mainframe.CODECS:
        return mainframe.char_offset(text, index, codec, shifted)
    if codec in ebcdic.CHARSETS:
        return ebcdic.char_offset(text, index, codec)
    return len(text[:index].encode(codec, errors="replace"))
