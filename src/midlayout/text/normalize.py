"""Vectorised width, kana and space normalisation for polars string expressions (never NFKC)."""

from __future__ import annotations

import re

import jaconv
import polars as pl

__all__ = [
    "hankaku_kana_to_zenkaku",
    "hankaku_kana_to_zenkaku_reference",
    "normalize_spaces",
    "normalize_spaces_reference",
    "trim",
    "trim_reference",
    "zenkaku_ascii_to_hankaku",
    "zenkaku_ascii_to_hankaku_reference",
    "zenkaku_digits_to_hankaku",
    "zenkaku_digits_to_hankaku_reference",
]

_HALF_KANA = "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
_FULL_KANA = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜"
_VOICEABLE = "ｳｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ"
_VOICED = "ヴガギグゲゴザジズゼゾダヂヅデドバビブベボ"
_SEMI_VOICEABLE = "ﾊﾋﾌﾍﾎ"
_SEMI_VOICED = "パピプペポ"

# Two-character (voiced) patterns come first: with leftmost=True, polars' Aho-Corasick picks the
# earliest-listed pattern among those starting at the same position.
_KANA_PATTERNS = [c + "ﾞ" for c in _VOICEABLE] + [c + "ﾟ" for c in _SEMI_VOICEABLE] + list(_HALF_KANA)
_KANA_REPLACEMENTS = list(_VOICED) + list(_SEMI_VOICED) + list(_FULL_KANA)

# Where neighbouring characters merge (the op table's `merges`, read by mapping/proof.py): a voiced
# pair becomes one character; runs of spaces become one space.
KANA_MERGES = [(p, r) for p, r in zip(_KANA_PATTERNS, _KANA_REPLACEMENTS, strict=True) if len(p) > 1]
SPACE_MERGES = [("  ", " ")]

_ZEN_ASCII = [chr(c) for c in range(0xFF01, 0xFF5F)]
_HAN_ASCII = [chr(c) for c in range(0x21, 0x7F)]
_ZEN_DIGITS = [chr(c) for c in range(0xFF10, 0xFF1A)]
_HAN_DIGITS = [chr(c) for c in range(0x30, 0x3A)]


def _replace_chars(expr: pl.Expr, patterns: list[str], replacements: list[str]) -> pl.Expr:
    """Replace literal patterns, leftmost and earliest-listed first (see module notes)."""
    return expr.str.replace_many(patterns, replacements, leftmost=True)


def trim(expr: pl.Expr, chars: str = " \u3000", side: str = "both") -> pl.Expr:
    """Strip `chars` (default ASCII and full-width space) from `side` ("both", "left" or "right")."""
    if side == "both":
        return expr.str.strip_chars(chars)
    if side == "left":
        return expr.str.strip_chars_start(chars)
    if side == "right":
        return expr.str.strip_chars_end(chars)
    raise ValueError(f"side must be 'both', 'left' or 'right', not {side!r}")


def hankaku_kana_to_zenkaku(expr: pl.Expr) -> pl.Expr:
    """Half-width katakana and punctuation to full-width, composing ﾞ/ﾟ with the preceding kana."""
    return _replace_chars(expr, _KANA_PATTERNS, _KANA_REPLACEMENTS)


def zenkaku_ascii_to_hankaku(expr: pl.Expr, spaces: bool = False) -> pl.Expr:
    """Full-width ASCII (U+FF01-FF5E) to ASCII; U+3000 to a space only when `spaces` is true."""
    patterns, replacements = list(_ZEN_ASCII), list(_HAN_ASCII)
    if spaces:
        patterns.append("\u3000")
        replacements.append(" ")
    return _replace_chars(expr, patterns, replacements)


def zenkaku_digits_to_hankaku(expr: pl.Expr) -> pl.Expr:
    """Full-width digits ０-９ to ASCII 0-9; nothing else changes."""
    return _replace_chars(expr, _ZEN_DIGITS, _HAN_DIGITS)


def normalize_spaces(expr: pl.Expr) -> pl.Expr:
    """Full-width spaces to ASCII spaces, then runs of spaces collapsed to one."""
    return expr.str.replace_all("\u3000", " ", literal=True).str.replace_all(" {2,}", " ")


# --- per-value references, used by tests only -------------------------------------------------


def trim_reference(value: str | None, chars: str = " \u3000", side: str = "both") -> str | None:
    """Pure-Python reference for `trim`."""
    if value is None:
        return None
    strip = {"both": str.strip, "left": str.lstrip, "right": str.rstrip}[side]
    return strip(value, chars)


def hankaku_kana_to_zenkaku_reference(value: str | None) -> str | None:
    """jaconv reference for `hankaku_kana_to_zenkaku` (jaconv leaves lone ﾞ/ﾟ half-width; we do not)."""
    if value is None:
        return None
    converted = jaconv.h2z(value, kana=True, ascii=False, digit=False)
    return converted.replace("ﾞ", "゛").replace("ﾟ", "゜")


def zenkaku_ascii_to_hankaku_reference(value: str | None, spaces: bool = False) -> str | None:
    """jaconv reference for `zenkaku_ascii_to_hankaku`."""
    if value is None:
        return None
    ignore = "" if spaces else "\u3000"
    return jaconv.z2h(value, ignore=ignore, kana=False, ascii=True, digit=True)


def zenkaku_digits_to_hankaku_reference(value: str | None) -> str | None:
    """jaconv reference for `zenkaku_digits_to_hankaku`."""
    if value is None:
        return None
    return jaconv.z2h(value, kana=False, ascii=False, digit=True)


def normalize_spaces_reference(value: str | None) -> str | None:
    """Pure-Python reference for `normalize_spaces`."""
    if value is None:
        return None
    return re.sub(" {2,}", " ", value.replace("\u3000", " "))
