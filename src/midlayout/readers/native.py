"""Fused native decoder for fixed-width records: every text field of a record in one pass over its bytes.

A numba kernel walks each record once, decodes its text fields through lookup tables built from
Python's own codec (so a byte sequence maps to exactly the character `bytes.decode` gives), trims
spaces where the compiled mapping asked for it, and writes UTF-8 straight into Arrow string buffers:
string views (polars' own layout, which it takes over without copying) over one data buffer, and
offsets for a column whose values are patched. A value the kernel cannot settle on its own (invalid bytes, a character cut at the
field end, a 外字, U+FFFD) is flagged, and only those values go through the reference path of
`readers.decode` and `readers.gaiji`, so failures, their byte offsets and 外字 occurrences are the
reference's own.

`MIDLAYOUT_DECODER=python` selects the reference path everywhere (the default is `native`). numba is
imported on the first decode, never in a process that does not decode fixed-width text; its cache is
guarded by `midlayout.jit`.

Over 350 lines on purpose: the kernel, the tables it reads and the hand-off of flagged values to the
reference path are one decoder and must change together.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from midlayout.errors import UsageError
from midlayout.readers.decode import DecodeFailure, _classify
from midlayout.readers.gaiji import GaijiHit, GaijiSpec, source_code
from midlayout.text.encodings import byte_offset

__all__ = ["DECODER_ENV", "NATIVE_CODECS", "decode_fields", "decoder", "native_codec"]

DECODER_ENV = "MIDLAYOUT_DECODER"
# Stateless codecs whose characters are 1, 2 or (EUC-JP 0x8F) 3 bytes: the tables below cover them.
NATIVE_CODECS = ("cp932", "shift_jis", "euc_jp")

# Trim modes per field (what the compiled mapping let the reader apply, see mapping/pushdown.py), plus
# KANA: half-width katakana to full-width as `zenkaku_kana` does (text/normalize.py), ﾞ/ﾟ merged.
TRIM_NONE, TRIM_RIGHT, TRIM_BOTH = 0, 1, 2
TRIM_MASK, KANA = 3, 4

_INVALID, _LEAD2, _LEAD3 = -1, -2, -3
_VIEW_LIMIT = 2**31  # a string view's offset into its data buffer is an int32
_CUT_REASONS = ("incomplete multibyte sequence", "unexpected end of data")


def decoder() -> str:
    """The selected decoder: `native` (default) or `python` (the reference path)."""
    value = os.environ.get(DECODER_ENV, "native").strip().lower() or "native"
    if value not in ("native", "python"):
        raise UsageError(f"{DECODER_ENV} must be 'native' or 'python', not {value!r}")
    return value


def native_codec(codec: str) -> bool:
    """True when the fused decoder handles `codec` and is selected."""
    return codec in NATIVE_CODECS and decoder() == "native"


# --- tables from Python's codec -------------------------------------------------------------------


def _incomplete(raw: bytes, codec: str) -> bool | None:
    """True: a valid prefix; False: invalid; None: decodes."""
    try:
        raw.decode(codec)
    except UnicodeDecodeError as exc:
        return exc.reason in _CUT_REASONS and exc.end == len(raw)
    return None


def _one_char(raw: bytes, codec: str) -> int:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return _INVALID
    return ord(text) if len(text) == 1 else _INVALID


@cache
def codec_tables(codec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(single[256], double[65536], triple[65536]) code points from `codec`, built once per process.

    single[b]: the character of byte b, or -1 (invalid) or -2 (lead byte). double[lead*256+trail]: the
    character, -1, or -3 when the pair leads a 3-byte character; triple[b2*256+b3]: its character
    (one 3-byte lead at most, EUC-JP 0x8F). A sequence decoding to more than one character is invalid
    here, so its value goes to the reference path.
    """
    single = np.full(256, _INVALID, dtype=np.int32)
    double = np.full(65536, _INVALID, dtype=np.int32)
    triple = np.full(65536, _INVALID, dtype=np.int32)
    lead3: int | None = None
    for b in range(256):
        state = _incomplete(bytes([b]), codec)
        if state is None:
            single[b] = _one_char(bytes([b]), codec)
            continue
        if not state:
            continue
        single[b] = _LEAD2
        for t in range(256):
            pair = bytes([b, t])
            if _incomplete(pair, codec):
                if lead3 not in (None, b):
                    raise RuntimeError(f"{codec}: more than one 3-byte lead")
                lead3 = b
                double[b * 256 + t] = _LEAD3
                for u in range(256):
                    triple[t * 256 + u] = _one_char(pair + bytes([u]), codec)
            else:
                double[b * 256 + t] = _one_char(pair, codec)
    return single, double, triple


def _packed(points: np.ndarray, special: np.ndarray) -> np.ndarray:
    """Each code point as the kernel writes it: its UTF-8 bytes (first byte lowest) | length << 24.

    Lead markers (-2, -3) stay; an invalid sequence (-1), a character beyond U+FFFF and a special one
    (`special[c]`: 外字, U+FFFD) are -1, which sends the value to the reference path.
    """
    out = np.where(points < -1, points, -1).astype(np.int32)
    c = points.astype(np.int64)
    ok = (c >= 0) & (c <= 0xFFFF)
    ok[ok] = special[c[ok]] == 0
    c = c[ok]
    one = c | 1 << 24
    two = (0xC0 | c >> 6) | (0x80 | c & 0x3F) << 8 | 2 << 24
    three = (0xE0 | c >> 12) | (0x80 | c >> 6 & 0x3F) << 8 | (0x80 | c & 0x3F) << 16 | 3 << 24
    out[ok] = np.where(c < 0x80, one, np.where(c < 0x800, two, three))
    return out


@cache
def kana_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(full, voiced, semi_voiced)[c - U+FF61] for the half-width katakana U+FF61-FF9F, packed as the
    kernel writes them, from the very pairs `hankaku_kana_to_zenkaku` replaces (0: no such merge)."""
    from midlayout.text.normalize import _KANA_PATTERNS, _KANA_REPLACEMENTS

    points = np.zeros((3, 63), dtype=np.int32)  # code points; 0: no merge
    marks = {"": 0, "\uff9e": 1, "\uff9f": 2}
    for pattern, replacement in zip(_KANA_PATTERNS, _KANA_REPLACEMENTS, strict=True):
        index = ord(pattern[0]) - 0xFF61
        if not (0 <= index < 63 and len(replacement) == 1 and pattern[1:] in marks):
            raise RuntimeError(f"zenkaku_kana pair {pattern!r} is not one the kernel applies")
        points[marks[pattern[1:]], index] = ord(replacement)
    tables = np.where(points > 0, _packed(points, np.zeros(65536, np.uint8)), 0)
    if not (points[0] > 0).all() or ((points > 0) & (tables >> 24 != 3)).any():
        raise RuntimeError("zenkaku_kana: every half-width katakana maps to one 3-byte character")
    return tables[0], tables[1], tables[2]


_SPACE = 0x20 | 1 << 24  # " " and U+3000 as packed by `_packed` (trimmed at the start of a field)
_IDEOGRAPHIC_SPACE = 0xE3 | 0x80 << 8 | 0x80 << 16 | 3 << 24


@cache
def _utf8_tables_cached(
    codec: str, key: tuple[frozenset[str], frozenset[str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    special = _special_cached(key)
    return tuple(_packed(t, special) for t in codec_tables(codec))  # type: ignore[return-value]


def utf8_tables(spec: GaijiSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`codec_tables(spec.codec)` packed for the kernel, with the spec's special characters marked -1."""
    return _utf8_tables_cached(spec.codec, (frozenset(spec.replacements), spec.declared))


def _pad_bytes(codec: str, single: np.ndarray, double: np.ndarray) -> tuple[int, int, int]:
    """(space, lead, trail): the byte of " " and the two bytes of U+3000 in `codec`, for the kernel's scan of
    a field's trailing spaces; -1 for a space that is not one plain token in the packed tables (a 外字 table
    that replaces it sends its values to the reference path, so it is never skipped)."""
    space = 0x20 if " ".encode(codec) == b" " and single[0x20] == _SPACE else -1
    try:
        wide = "\u3000".encode(codec)
    except UnicodeEncodeError:
        wide = b""
    if len(wide) != 2 or double[wide[0] * 256 + wide[1]] != _IDEOGRAPHIC_SPACE:
        return space, -1, -1
    return space, wide[0], wide[1]


# --- the kernel ----------------------------------------------------------------------------------


def _kernel_source(
    buf: Any,
    n: Any,
    stride: Any,
    starts: Any,
    lengths: Any,
    trims: Any,
    bases: Any,
    single: Any,
    double: Any,
    triple: Any,
    kana: Any,
    voiced: Any,
    semi: Any,
    pad_space: Any,
    pad_lead: Any,
    pad_trail: Any,
    data: Any,
    offsets: Any,
    flags: Any,
    views: Any,
) -> int:  # pragma: no cover - compiled by numba (the test suite runs it compiled)
    # pad_space: the byte of " ", pad_lead/pad_trail: the two of U+3000 (-1: none). A field trimmed on the
    # right is first shortened, on its bytes, by the ASCII and full-width spaces that end it (`stop`), and
    # decoded up to there. A character that reaches past `stop` means the bytes before it did not split
    # where the backward scan did (0x81 0x40 can end a kanji in CP932): the field is then decoded to its
    # end, as without the scan.
    nfields = len(starts)
    with_views = views.shape[0] == nfields
    pos = bases.copy()
    flagged = 0
    for r in range(n):
        rec = r * stride
        for f in range(nfields):
            i = rec + starts[f]
            end = i + lengths[f]
            stop = end
            if (trims[f] & 3) != 0:
                while stop > i:
                    if buf[stop - 1] == pad_space:
                        stop -= 1
                    elif stop - 2 >= i and buf[stop - 2] == pad_lead and buf[stop - 1] == pad_trail:
                        stop -= 2
                    else:
                        break
            first = pos[f]
            offsets[f, r] = first
            w = first
            bad = False
            leading = (trims[f] & 3) == 2
            to_kana = (trims[f] & 4) != 0
            last = -1  # the half-width kana (index from U+FF61) just written at `last_w`, else -1
            last_w = w
            while i < stop:
                u = single[buf[i]]
                if u == -2:
                    if i + 1 >= stop:
                        stop = end
                        if i + 1 >= end:
                            bad = True
                            break
                    u = double[buf[i] * 256 + buf[i + 1]]
                    if u == -3:
                        if i + 2 >= stop:
                            stop = end
                            if i + 2 >= end:
                                bad = True
                                break
                        u = triple[buf[i + 1] * 256 + buf[i + 2]]
                        i += 3
                    else:
                        i += 2
                else:
                    i += 1
                if u < 0:
                    bad = True
                    break
                if leading:
                    if u == _SPACE or u == _IDEOGRAPHIC_SPACE:
                        continue
                    leading = False
                if to_kana:
                    k = -1
                    if (u & 0xFF) == 0xEF and (u >> 24) == 3:  # U+F000-FFFF: is it U+FF61-FF9F?
                        k = (((u >> 8) & 0x3F) << 6 | ((u >> 16) & 0x3F)) - 0xF61
                        if k < 0 or k >= 63:
                            k = -1
                    if k >= 0:
                        merged = 0
                        if last >= 0 and k == 61:
                            merged = voiced[last]
                        elif last >= 0 and k == 62:
                            merged = semi[last]
                        if merged != 0:  # ﾞ/ﾟ after a kana that takes it: one character (same 3 bytes)
                            data[last_w] = merged & 0xFF
                            data[last_w + 1] = (merged >> 8) & 0xFF
                            data[last_w + 2] = (merged >> 16) & 0xFF
                            last = -1
                            continue
                        last = k
                        last_w = w
                        u = kana[k]
                    else:
                        last = -1
                data[w] = u & 0xFF
                if u >= 0x2000000:
                    data[w + 1] = (u >> 8) & 0xFF
                    if u >= 0x3000000:
                        data[w + 2] = (u >> 16) & 0xFF
                w += u >> 24
            if bad:
                flags[r, f] = 1
                flagged += 1
                w = first
            elif (trims[f] & 3) != 0:
                while w > first:
                    if data[w - 1] == 0x20:
                        w -= 1
                    elif (
                        w - 3 >= first and data[w - 1] == 0x80 and data[w - 2] == 0x80 and data[w - 3] == 0xE3
                    ):
                        w -= 3
                    else:
                        break
            pos[f] = w
            if with_views:  # Arrow string view: length, then the bytes inline (<= 12) or prefix + offset
                length = w - first
                low = np.int64(0)
                high = np.int64(0)
                for k in range(min(length, 4)):
                    low |= np.int64(data[first + k]) << (32 + 8 * k)
                if length <= 12:
                    for k in range(4, length):
                        high |= np.int64(data[first + k]) << (8 * (k - 4))
                else:
                    high = np.int64(first) << 32
                views[f, r, 0] = low | length
                views[f, r, 1] = high
    for f in range(nfields):
        offsets[f, n] = pos[f]
    return flagged


def _kernel() -> Any:
    """The compiled kernel (numba is imported here, on first use)."""
    from midlayout import jit

    return jit.kernel(_kernel_source, _warm)


def _warm(fn: Any) -> None:
    """Compile (or load from the cache) for the signatures the reader uses: the record bytes are read-only
    when they are a view of the bytes read, writable otherwise. A signature first met after warming would
    compile then, and bring the compiler's pages back (`midlayout.jit`)."""
    for data in (np.zeros(4, np.uint8), np.frombuffer(bytes(4), np.uint8)):
        _warm_one(fn, data)


def _warm_one(fn: Any, data: np.ndarray) -> None:
    single, double, triple = _utf8_tables_cached("cp932", (frozenset(), frozenset()))
    fn(
        data,
        1,
        4,
        np.zeros(1, np.int64),
        np.full(1, 4, np.int64),
        np.zeros(1, np.int8),
        np.zeros(1, np.int64),
        single,
        double,
        triple,
        *kana_tables(),
        0x20,
        0x81,
        0x40,
        np.zeros(16, np.uint8),
        np.zeros((1, 2), np.int64),
        np.zeros((1, 1), np.uint8),
        np.zeros((1, 1, 2), np.int64),
    )


# --- the reference path for flagged values ------------------------------------------------------


@dataclass
class FieldResult:
    """One decoded text field: the column, its failures (reference order) and its 外字 occurrences."""

    array: pa.Array
    failures: list[DecodeFailure]
    hits: list[GaijiHit]


def _reference(raw: bytes, spec: GaijiSpec, trim: int) -> tuple[str | None, DecodeFailure | None, bool, list]:
    """One value as `decode_column` + `apply_gaiji` treat it: (value, failure, is_fffd, hits at row 0)."""
    codec = spec.codec
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        pos, rule, message = _classify(raw, exc, codec)
        return None, DecodeFailure(0, pos, rule, message), False, []
    if "\ufffd" in text:
        byte = len(text[: text.index("\ufffd")].encode(codec, errors="replace"))
        return None, DecodeFailure(0, byte, "replacement_char", "decodes to U+FFFD"), True, []
    hits = []
    out = []
    for i, ch in enumerate(text):
        if spec.is_gaiji(ch):
            mapped = ch in spec.replacements
            hits.append(GaijiHit(0, byte_offset(text, i, codec), ch, source_code(ch, codec), mapped))
            out.append(spec.replacements.get(ch, ch))
        else:
            out.append(ch)
    value = "".join(out)
    if trim & TRIM_MASK == TRIM_BOTH:
        value = value.strip(" \u3000")
    elif trim & TRIM_MASK == TRIM_RIGHT:
        value = value.rstrip(" \u3000")
    return value, None, False, hits


def decode_fields(
    records: np.ndarray, starts: list[int], lengths: list[int], trims: list[int], spec: GaijiSpec
) -> list[FieldResult]:
    """Decode text fields (byte `starts`/`lengths` in each row of `records`, an n × stride uint8 matrix
    of whole records) in one pass; equal to `decode_column` + `apply_gaiji` per field, plus the trims
    asked for (`TRIM_*` per field). A column is an Arrow `string_view` array (polars takes it without a
    copy), or `large_string` when a value of it went through the reference path or the batch's text
    would not fit int32 offsets."""
    n, stride = records.shape
    nfields = len(starts)
    if not nfields:
        return []
    records = np.ascontiguousarray(records)  # the reader passes its matrix, already contiguous
    flat = records.reshape(-1)
    single, double, triple = utf8_tables(spec)
    pad_space, pad_lead, pad_trail = _pad_bytes(spec.codec, single, double)
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    # Each byte gives at most 3 bytes of UTF-8; untouched capacity is never paged in.
    caps = lengths_arr * 3 * n
    bases = np.zeros(nfields, dtype=np.int64)
    bases[1:] = np.cumsum(caps)[:-1]
    data = np.empty(max(int(caps.sum()), 1), dtype=np.uint8)
    offsets = np.empty((nfields, n + 1), dtype=np.int64)
    flags = np.zeros((n, nfields), dtype=np.uint8)
    # String views (polars' own layout: taken over without a copy) need int32 offsets into `data`.
    with_views = len(data) < _VIEW_LIMIT and sys.byteorder == "little"  # the kernel writes LE views
    views = np.empty((nfields if with_views else 0, n, 2), dtype=np.int64)  # little-endian 16-byte views
    flagged = _kernel()(
        flat,
        n,
        stride,
        np.asarray(starts, dtype=np.int64),
        lengths_arr,
        np.asarray(trims, dtype=np.int8),
        bases,
        single,
        double,
        triple,
        *kana_tables(),
        pad_space,
        pad_lead,
        pad_trail,
        data,
        offsets,
        flags,
        views,
    )
    data_buf = pa.py_buffer(data)
    patched = set(np.flatnonzero(flags.any(axis=0)).tolist()) if flagged else set()
    results = []
    for f in range(nfields):
        if with_views and f not in patched:
            arr = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views[f]), data_buf])
        else:
            arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets[f]), data_buf])
        results.append(FieldResult(arr, [], []))
    for k in sorted(patched):
        results[k] = _patch(results[k].array, records, k, starts, lengths, trims, flags, spec)
    return results


def _patch(
    arr: pa.Array,
    records: np.ndarray,
    f: int,
    starts: list[int],
    lengths: list[int],
    trims: list[int],
    flags: np.ndarray,
    spec: GaijiSpec,
) -> FieldResult:
    rows = np.flatnonzero(flags[:, f])
    values: list[str | None] = []
    failures: list[DecodeFailure] = []
    fffd: list[DecodeFailure] = []
    hits: list[GaijiHit] = []
    for row in rows:
        raw = records[row, starts[f] : starts[f] + lengths[f]].tobytes()
        value, failure, is_fffd, value_hits = _reference(raw, spec, trims[f])
        values.append(value)
        if failure is not None:
            (fffd if is_fffd else failures).append(DecodeFailure(int(row), *_rest(failure)))
        hits += [GaijiHit(int(row), h.byte, h.char, h.code, h.mapped) for h in value_hits]
    replacement = pa.array(values, type=pa.large_string())
    if trims[f] & KANA:  # the op itself on these few values (after 外字 replacements, as in the mapping)
        replacement = zenkaku_kana(replacement)
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    patched = pc.replace_with_mask(arr, pa.array(mask), replacement)
    return FieldResult(patched, failures + fffd, hits)


def zenkaku_kana(arr: pa.Array) -> pa.Array:
    """`zenkaku_kana` (text/normalize.py) on an Arrow string column: what the reader applies for KANA."""
    import polars as pl

    from midlayout.text.normalize import hankaku_kana_to_zenkaku

    series = pl.Series("v", arr, dtype=pl.String)
    out = series.to_frame().select(hankaku_kana_to_zenkaku(pl.col("v")))["v"]
    return out.to_arrow().cast(pa.large_string())


def _rest(failure: DecodeFailure) -> tuple[int, str, str]:
    return failure.byte, failure.rule, failure.message


@cache
def _special_cached(key: tuple[frozenset[str], frozenset[str]]) -> np.ndarray:
    replacements, declared = key
    special = np.zeros(65536, dtype=np.uint8)
    special[0xE000:0xF900] = 1
    special[0xFFFD] = 1
    for ch in (*replacements, *declared):
        if ord(ch) < 65536:
            special[ord(ch)] = 1
    return special
