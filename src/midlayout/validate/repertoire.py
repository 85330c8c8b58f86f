"""Target character repertoires (any Unicode, CP932, JIS X 0208, JIS X 0213) and MJ縮退 suggestions.

A character is inside a repertoire when it survives an encode → decode round trip in that repertoire's
codec: CP932's encoder maps U+301C to 0x8160, which decodes to U+FF5E, so a plain "is it encodable"
test would let the wave dash change silently. Columns are checked in one codec call; only a column
that fails is walked value by value (the error path).
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

from midlayout import kernels
from midlayout.text.encodings import CODECS
from midlayout.text.ivs import split_chars
from midlayout.text.utf8 import utf8_bytes

REPERTOIRES = ("unicode", "cp932", "jisx0208", "jisx0213", "jisx0213_ivs")
# JIS X 0213 plus ideographic variation sequences: the approximation of 行政事務標準文字 (MJ+) that can be
# checked here (no enumerable MJ list is shippable). A selector is accepted after any JIS X 0213 base.
_IVS = re.compile("[\U000e0100-\U000e01ef]")
_CODECS = {  # layout encodings, and the repertoires named by the codec that holds exactly them
    **{encoding: CODECS[encoding] for encoding in ("cp932", "shift_jis", "euc-jp")},
    "jisx0208": "euc_jp",
    "jisx0213": "euc_jis_2004",
    "jisx0213_ivs": "euc_jis_2004",
}
_JISX0212 = b"\x8f"  # EUC-JP's SS3: the character came from JIS X 0212, not JIS X 0208


def of_layout(encoding: str, repertoire: str | None) -> tuple[str, ...]:
    """What a layout's text items must fit: its encoding, and its declared repertoire if any."""
    return (encoding,) if repertoire is None else (encoding, repertoire)


def codec_of(repertoire: str) -> str | None:
    """The round-trip codec of a repertoire or layout encoding; None when anything fits."""
    if repertoire == "unicode" or repertoire.startswith("utf-8"):
        return None
    return _CODECS[repertoire]


def fits(text: str, repertoire: str) -> bool:
    """True when every character of `text` is inside `repertoire`."""
    codec = codec_of(repertoire)
    if codec is None:
        return True
    if repertoire == "jisx0213_ivs":
        text = _IVS.sub("", text)
    try:
        raw = text.encode(codec)
    except UnicodeEncodeError:
        return False
    if repertoire == "jisx0208" and _JISX0212 in raw:
        return False
    return raw.decode(codec) == text


# Codecs without combining sequences: a round trip of the values concatenated equals the round trips of
# each value (euc_jis_2004 composes か+゜ across a boundary, so JIS X 0213 keeps a separator).
_CONCAT_SAFE = {"cp932", "shift_jis", "euc_jp"}
# The characters each of those codecs encodes but decodes to another one (CP932: U+301C → 0x8160 → U+FF5E);
# a test finds them over every code point. A text without them comes back whole wherever it encodes, so
# its round trip needs no decode.
NOT_BACK = {"cp932": "\xa2\xa3\xac\u2016\u2212\u301c", "shift_jis": "\xa5\u203e", "euc_jp": "\xa5\u203e"}


def _fits_text(text: str, repertoire: str) -> bool:
    """`fits`, for a text of one of the _CONCAT_SAFE codecs: encoded once, decoded only when it holds a
    character that does not come back."""
    codec = codec_of(repertoire)
    if codec not in NOT_BACK or any(ch in text for ch in NOT_BACK[codec]):
        return fits(text, repertoire)
    try:
        raw = text.encode(codec)
    except UnicodeEncodeError:
        return False
    return not (repertoire == "jisx0208" and _JISX0212 in raw)


def column_fits(values: pl.Series, repertoires: tuple[str, ...]) -> bool:
    """True when every value fits: ASCII-only bytes, or one round trip of the whole column per repertoire."""
    arr = values.to_arrow()
    buf = None if isinstance(arr, pa.ChunkedArray) else utf8_bytes(arr)
    if buf is not None and not (buf >= 0x80).any():
        return True  # ASCII is inside every repertoire here
    codecs = {codec_of(r) for r in repertoires} - {None}
    if buf is not None and codecs <= _CONCAT_SAFE:
        text = buf.tobytes().decode("utf-8")
        return all(_fits_text(text, r) for r in repertoires)
    text = "\n".join(values.drop_nulls().to_list())
    return all(fits(text, r) for r in repertoires)


def outside(series: pl.Series, repertoires: tuple[str, ...]) -> np.ndarray:
    """Boolean mask of values holding a character outside any of `repertoires`."""
    values = series.cast(pl.String)
    if all(codec_of(r) is None for r in repertoires) or kernels.active().column_fits(values, repertoires):
        return np.zeros(len(series), dtype=bool)
    present = values.drop_nulls()
    bad = [v for v in present.unique().to_list() if not all(fits(v, r) for r in repertoires)]
    return values.is_in(bad).fill_null(False).to_numpy()


def bad_chars(value: str, repertoires: tuple[str, ...]) -> list[tuple[int, str]]:
    """(character index, character) of every character outside a repertoire (error path only).

    A base with its variation selector (an IVS) is one character: it is outside when the repertoire
    cannot hold the sequence, and it is reported whole (text/ivs.py).
    """
    out = []
    for i, ch in enumerate(split_chars(value)):
        if not all(fits(ch, r) for r in repertoires):
            out.append((i, ch))
    return out


@cache
def suggestions(ch: str, repertoire: str) -> tuple[str, ...]:
    """MJ縮退マップ candidates (via jntajis) for `ch` that fit `repertoire`: listed, never applied.

    For a variation sequence the base without its selector comes first (the variant is lost, so it is a
    suggestion for a person to weigh, like the others).
    """
    if len(ch) > 1:
        base = split_chars(ch)[0][:1]
        return tuple(dict.fromkeys(c for c in (base, *suggestions(base, repertoire)) if fits(c, repertoire)))
    try:
        import jntajis
    except ImportError:  # pragma: no cover - declared dependency; degrade to no suggestions
        return ()
    combo = 0
    for scheme in jntajis.MJShrinkSchemeCombo:
        combo |= scheme
    try:
        candidates = jntajis.mj_shrink_candidates(ch, combo)
    except Exception:  # noqa: BLE001 - a character jntajis does not know has no candidates
        return ()
    return tuple(c for c in dict.fromkeys(candidates) if c != ch and fits(c, repertoire))
