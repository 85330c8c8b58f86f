"""Variation sequences: a base character and its variation selectors are ONE character for the user.

An ideographic variation sequence (葛 + U+E0100) or a standardized one (U+FE00-U+FE0F) is what a clerk sees
as one character. Character counts (the `chars:` 桁数), the positions in reject messages, the
repertoire report and the 外字 report all count it as one; byte counts stay bytes. `count_chars` is the
vectorised count for polars, `split_chars` and `char_len` the per-value twins.
"""

from __future__ import annotations

import re

import polars as pl

VS_CLASS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_VS = re.compile(f"[{VS_CLASS}]")
_CHAR = re.compile(f"[^{VS_CLASS}][{VS_CLASS}]*|[{VS_CLASS}]+", re.DOTALL)
_VS_RUST = r"[\x{FE00}-\x{FE0F}\x{E0100}-\x{E01EF}]"


def is_selector(ch: str) -> bool:
    """True for a variation selector (standardized U+FE00-U+FE0F or ideographic U+E0100-U+E01EF)."""
    return bool(_VS.fullmatch(ch))


def split_chars(text: str) -> list[str]:
    """`text` as user characters: each base with the selectors that follow it (a stray selector alone)."""
    return _CHAR.findall(text)


def char_len(text: str) -> int:
    """Number of user characters in `text` (an IVS counts as one)."""
    return len(split_chars(text))


def count_chars(expr: pl.Expr) -> pl.Expr:
    """Vectorised `char_len` for a polars string expression: code points minus the selectors that follow one.

    A selector at the very start (no base) counts as a character, as `split_chars` makes it one.
    """
    starts = expr.str.contains(f"^{_VS_RUST}").cast(pl.UInt32)
    return expr.str.len_chars() - expr.str.count_matches(_VS_RUST).cast(pl.UInt32) + starts


def char_index(text: str, index: int) -> int:
    """The 0-based user-character position of the code point `text[index]`."""
    return len(split_chars(text[: index + 1])) - 1


def codepoints(char: str) -> str:
    """`U+845B U+E0100`: a user character's code points, as reports and messages show them."""
    return " ".join(f"U+{ord(c):04X}" for c in char)
