"""Fujitsu JEF, Hitachi KEIS and NEC JIPS: table-driven, vectorised, strict codecs for mainframe extracts.

The tables are generated from jef4j's public mapping data (tables/NOTICE.md, scripts/gen_mainframe_tables.py).
A field is decoded as a whole column: the bytes of all records form an (n × width) matrix and every step
(shift state, pairing, table lookups, assembling UTF-8) is a numpy operation over that matrix. Two kinds
of field exist:

- shifted (``type: text``): single-byte characters, and double-byte runs between a shift-in and a
  shift-out code; the field must end in single-byte mode;
- pure double-byte (COBOL ``PIC N``/``PIC G``, ``shifted=False``): every byte pair is one character.

Strict: an undefined code, a code jef4j lists without a Unicode equivalent or with two meanings, an
unbalanced or doubled shift, or a character cut at the field end is a failure with its byte offset.
User-defined areas (外字) decode to private-use characters (as jef4j does), so the 外字 table, policy and
report treat them like CP932's; encoding turns them back into the vendor code.

Over 350 lines on purpose: decoding, encoding and the table loading of the three vendors' codes share
one matrix representation and one set of strictness rules.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa

from midlayout.text.mainframe.tables import AMBIGUOUS, NO_UNICODE, Table, bytemap, load

# User-defined areas (lead low, lead high, trail low, trail high, first code point), from jef4j's decoders.
JEF_GAIJI = ((0x80, 0xA0, 0xA1, 0xFE, 0xE000),)
KEIS_GAIJI = ((0x81, 0xA0, 0xA1, 0xFE, 0xE000),)
JIPS_GAIJI = ((0x74, 0x7E, 0x21, 0x7E, 0xE000), (0xE0, 0xFE, 0xA1, 0xFE, 0xE40A))

# Failure kinds, in the order a row reports them when several start at the same byte.
_OK, _SHIFT, _END_DBCS, _CUT, _ODD, _UNDEF, _NO_UNICODE, _AMBIGUOUS = range(8)
_VS_OR_MARK = {0x3099, 0x309A}


@dataclass(frozen=True)
class Codec:
    """One mainframe encoding: its double- and single-byte tables and its shift codes."""

    name: str
    vendor: str  # "JEF", "KEIS", "JIPS": how messages name the double-byte code
    dbcs_table: str
    sbcs_table: str
    shift_in: bytes
    shift_out: bytes
    gaiji: tuple[tuple[int, int, int, int, int], ...]
    ebcdic: bool  # single-byte set is EBCDIC-based (zoned numbers are zoned_ebcdic)
    alt_shift_in: bytes = b""  # JEF: 0x38 also shifts in (jef4j treats it like 0x28)
    dbcs_bytemap: str = ""  # JIPS(E): each byte of a JIPS(J) code is written in EBCDIK
    doc: str = field(default="", compare=False)

    @property
    def dbcs(self) -> Table:
        return load(self.dbcs_table, self.gaiji)

    @property
    def sbcs(self) -> Table:
        return load(self.sbcs_table)


def _jef(sb: str, doc: str) -> Codec:
    return Codec(
        f"jef-{sb}",
        "JEF",
        "fujitsu_jef",
        f"fujitsu_{sb}",
        b"\x28",
        b"\x29",
        JEF_GAIJI,
        True,
        b"\x38",
        doc=doc,
    )


def _keis(v: str, sb: str, doc: str) -> Codec:
    return Codec(
        f"keis{v}-{sb}",
        "KEIS",
        f"hitachi_keis{v}",
        f"hitachi_{sb}",
        b"\x0a\x42",
        b"\x0a\x41",
        KEIS_GAIJI,
        True,
        doc=doc,
    )


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        _jef("ebcdic", "Fujitsu JEF kanji + EBCDIC (lower-case Latin) single bytes"),
        _jef("ebcdik", "Fujitsu JEF kanji + EBCDIK (half-width katakana) single bytes"),
        _jef("ascii", "Fujitsu JEF kanji + EBCDIC-ASCII single bytes"),
        _keis("78", "ebcdic", "Hitachi KEIS78 + EBCDIC single bytes"),
        _keis("78", "ebcdik", "Hitachi KEIS78 + EBCDIK single bytes"),
        _keis("83", "ebcdic", "Hitachi KEIS83 + EBCDIC single bytes"),
        _keis("83", "ebcdik", "Hitachi KEIS83 + EBCDIK single bytes"),
        Codec("jipsj-jis8", "JIPS", "nec_jips", "nec_jis8", b"\x1a\x70", b"\x1a\x71", JIPS_GAIJI, False,
              doc="NEC JIPS(J) + JIS8 single bytes"),
        Codec("jipsj-ebcdik", "JIPS", "nec_jips", "nec_ebcdik", b"\x1a\x70", b"\x1a\x71", JIPS_GAIJI, True,
              doc="NEC JIPS(J) + EBCDIK single bytes"),
        Codec("jipse-ebcdik", "JIPS", "nec_jips", "nec_ebcdik", b"\x3f\x75", b"\x3f\x76", JIPS_GAIJI, True,
              dbcs_bytemap="nec_jis8_ebcdik", doc="NEC JIPS(E) (JIPS codes in EBCDIK bytes) + EBCDIK single bytes"),
    )
}  # fmt: skip


def is_mainframe(name: str) -> bool:
    """True for the JEF/KEIS/JIPS encodings this module implements."""
    return name in CODECS


@dataclass(frozen=True)
class _Lookups:
    """A codec's tables joined: one id space (single-byte ids first), one UTF-8 pool."""

    sbcs_ids: np.ndarray
    dbcs_ids: np.ndarray  # already offset by the single-byte pool size (negative kinds kept)
    utf8: np.ndarray
    starts: np.ndarray
    lens: np.ndarray
    to_dbcs: np.ndarray | None  # vendor byte → table byte (JIPS(E)), else None
    from_dbcs: np.ndarray | None  # table byte → vendor byte
    packed: np.ndarray  # each pool entry's UTF-8, zero-padded to 8 bytes, as one uint64


@cache
def _lookups(name: str) -> _Lookups:
    c = CODECS[name]
    s, d = c.sbcs, c.dbcs
    npool = len(s.pool)
    dbcs_ids = np.where(d.ids >= 0, d.ids + npool, d.ids).astype(np.int32)
    to_dbcs = from_dbcs = None
    if c.dbcs_bytemap:
        from_dbcs = bytemap(c.dbcs_bytemap)  # JIS8 byte → EBCDIK byte
        to_dbcs = np.zeros(256, dtype=np.uint8)
        to_dbcs[from_dbcs] = np.arange(256, dtype=np.uint8)
    texts = [t.encode("utf-8") for t in (*s.pool, *d.pool)]
    if any(len(t) > 8 for t in texts):
        raise ValueError(f"{name}: a table entry is longer than 8 UTF-8 bytes")
    packed = np.frombuffer(b"".join(t.ljust(8, b"\0") for t in texts), dtype=np.uint64)
    return _Lookups(
        s.ids,
        dbcs_ids,
        np.concatenate([s.utf8, d.utf8]),
        np.concatenate([s.starts, d.starts + len(s.utf8)]),
        np.concatenate([s.lens, d.lens]),
        to_dbcs,
        from_dbcs,
        packed,
    )


def _shifts(v: np.ndarray, c: Codec, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(in double-byte mode, is a shift byte) per byte; shift faults are marked in `err`."""
    if len(c.shift_in) == 1:
        ins = v == c.shift_in[0]
        if c.alt_shift_in:
            ins |= v == c.alt_shift_in[0]
        outs = v == c.shift_out[0]
        shift = ins | outs
    else:
        lead = v == c.shift_in[0]
        nxt = np.zeros_like(v)
        nxt[:, :-1] = v[:, 1:]
        ins = lead & (nxt == c.shift_in[1])
        outs = lead & (nxt == c.shift_out[1])
        _mark(err, lead & ~ins & ~outs, _SHIFT)
        first = ins | outs
        shift = first.copy()
        shift[:, 1:] |= first[:, :-1]
    running = np.cumsum(ins.astype(np.int16) - outs.astype(np.int16), axis=1)
    _mark(err, (ins | outs) & ((running > 1) | (running < 0)), _SHIFT)
    ends = np.zeros_like(shift)
    ends[:, -1] = running[:, -1] != 0
    _mark(err, ends, _END_DBCS)
    return (running == 1) & ~shift, shift


def _mark(err: np.ndarray, mask: np.ndarray, kind: int) -> None:
    if mask.any():  # the usual batch has no fault: skip the full-matrix write
        err[mask & (err == _OK)] = kind


def decode_matrix(
    values: np.ndarray, name: str, shifted: bool = True
) -> tuple[pa.Array, list[tuple[int, int, str, str]]]:
    """Decode an (n × width) uint8 matrix of one field; failures are (row, byte in field, rule, message).

    A failed row's value is null. Rules: ``invalid_bytes`` (undefined code, no Unicode equivalent,
    ambiguous code, unbalanced shift) and ``char_cut`` (the field ends inside a character or in
    double-byte mode).
    """
    c, look = CODECS[name], _lookups(name)
    v = np.ascontiguousarray(values, dtype=np.uint8)
    n, w = v.shape
    err = np.zeros((n, w), dtype=np.int8)
    if not w:
        return pa.array([""] * n, type=pa.large_string()), []
    if shifted:
        dbcs, shift = _shifts(v, c, err)
    else:
        dbcs, shift = np.ones((n, w), dtype=bool), np.zeros((n, w), dtype=bool)
    cols = np.arange(w, dtype=np.int32)
    prev = np.zeros_like(dbcs)
    prev[:, 1:] = dbcs[:, :-1]
    run_start = np.maximum.accumulate(np.where(dbcs & ~prev, cols, np.int32(0)), axis=1)
    lead = dbcs & (((cols - run_start) & 1) == 0)
    trail = dbcs & ~lead
    followed = np.zeros_like(dbcs)
    followed[:, :-1] = trail[:, 1:]
    half = lead & ~followed
    edge = np.zeros_like(half)
    edge[:, -1] = True
    _mark(err, half & edge, _CUT)
    _mark(err, half & ~edge, _ODD)
    charid = np.full((n, w), -1, dtype=np.int32)
    leads = np.flatnonzero(lead & ~half)
    if len(leads):
        flat = v.reshape(-1)
        hi, lo = flat[leads], flat[leads + 1]
        if look.to_dbcs is not None:
            hi, lo = look.to_dbcs[hi], look.to_dbcs[lo]
        ids = look.dbcs_ids[hi.astype(np.int32) << 8 | lo]
        charid.reshape(-1)[leads] = ids
    singles = np.flatnonzero(~dbcs & ~shift)
    if len(singles):
        charid.reshape(-1)[singles] = look.sbcs_ids[v.reshape(-1)[singles]]
    chars = lead & ~half | ~dbcs & ~shift
    _mark(err, chars & (charid == NO_UNICODE), _NO_UNICODE)
    _mark(err, chars & (charid == AMBIGUOUS), _AMBIGUOUS)
    _mark(err, chars & (charid < 0) & (charid != NO_UNICODE) & (charid != AMBIGUOUS), _UNDEF)
    bad = (err != _OK).any(axis=1)
    charid[bad] = -1
    charid[~chars] = -1
    return _assemble(charid, bad, look), _failures(v, err, bad, c, lead)


def _assemble(charid: np.ndarray, bad: np.ndarray, look: _Lookups) -> pa.Array:
    """Gather each character's UTF-8 from the pool, row by row, into one large_string array.

    Every pool entry is at most 8 UTF-8 bytes (a base and a selector or mark), so a character is one
    uint64 gather from `look.packed`, and a boolean mask over its 8 bytes keeps the ones it has.
    """
    n, w = charid.shape
    flat = charid.reshape(-1)
    sel = np.flatnonzero(flat >= 0)
    ids = flat[sel]
    lens = look.lens[ids]
    ends = np.zeros(len(sel) + 1, dtype=np.int64)
    np.cumsum(lens, out=ends[1:])
    bounds = np.searchsorted(sel, np.arange(n + 1, dtype=np.int64) * w)
    offsets = ends[bounds]
    wide = look.packed[ids].view(np.uint8).reshape(-1, 8)
    data = wide[np.arange(8, dtype=np.int8) < lens[:, None]]
    validity = None if not bad.any() else pa.py_buffer(np.packbits(~bad, bitorder="little"))
    return pa.Array.from_buffers(
        pa.large_string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    )


def _failures(
    v: np.ndarray, err: np.ndarray, bad: np.ndarray, c: Codec, lead: np.ndarray
) -> list[tuple[int, int, str, str]]:
    out = []
    for row in np.flatnonzero(bad):  # error path only: one entry per failed value
        pos = int(np.argmax(err[row] != _OK))
        kind = int(err[row, pos])
        byte = int(v[row, pos])
        shown = bytes(v[row, pos : pos + 2 if lead[row, pos] else pos + 1]).hex().upper()
        if kind in (_CUT, _END_DBCS):
            rule, msg = "char_cut", f"double-byte character cut at the field end (byte 0x{byte:02X})"
            if kind == _END_DBCS:
                msg = f"field ends in double-byte mode: the shift-out code is missing (byte 0x{byte:02X})"
        elif kind == _SHIFT:
            rule, msg = "invalid_bytes", f"unbalanced shift code 0x{byte:02X} in {c.name}"
        elif kind == _ODD:
            rule, msg = "invalid_bytes", f"half a double-byte character (0x{byte:02X}) before a shift code"
        elif kind == _NO_UNICODE:
            rule, msg = "invalid_bytes", f"{c.vendor} code 0x{shown} has no Unicode equivalent"
        elif kind == _AMBIGUOUS:
            rule, msg = "invalid_bytes", f"code 0x{shown} is ambiguous in the upstream table"
        else:
            rule, msg = "invalid_bytes", f"bytes 0x{shown} are not valid {c.name}"
        out.append((int(row), pos, rule, msg))
    return out


def decode_field(data: bytes, name: str, shifted: bool = True) -> str:
    """Decode one value strictly; UnicodeDecodeError with the byte offset and reason of the first fault.

    >>> decode_field(b"\\xc1\\x28\\xb0\\xa1\\x29", "jef-ebcdic")
    'A亜'
    """
    arr, fails = decode_matrix(np.frombuffer(bytes(data), dtype=np.uint8).reshape(1, -1), name, shifted)
    if fails:
        _, pos, rule, msg = fails[0]
        reason = "incomplete multibyte sequence: " + msg if rule == "char_cut" else msg
        raise UnicodeDecodeError(name, bytes(data), pos, min(pos + 1, len(data)), reason)
    value = arr[0].as_py()
    return value if value is not None else ""


def _encode(text: str, name: str, shifted: bool) -> tuple[bytes, list[int]]:
    """(bytes, byte offset of each character); a base + variation selector is one code."""
    c, look = CODECS[name], _lookups(name)
    s, d = c.sbcs.encode, c.dbcs.encode
    out = bytearray()
    offsets = [0] * len(text)
    in_dbcs = False
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if len(pair) == 2 and (_is_vs(pair[1]) or ord(pair[1]) in _VS_OR_MARK) and pair in d:
            code, step, double = d[pair], 2, True
        elif shifted and text[i] in s:
            code, step, double = s[text[i]], 1, False
        elif text[i] in d:
            code, step, double = d[text[i]], 1, True
        else:
            raise UnicodeEncodeError(name, text, i, i + 1, f"not encodable in {name}")
        if shifted and double != in_dbcs:
            out += c.shift_in if double else c.shift_out
            in_dbcs = double
        offsets[i : i + step] = [len(out)] * step
        if double:
            hi, lo = code >> 8, code & 0xFF
            if look.from_dbcs is not None:
                hi, lo = int(look.from_dbcs[hi]), int(look.from_dbcs[lo])
            out += bytes((hi, lo))
        else:
            out.append(code)
        i += step
    if in_dbcs:
        out += c.shift_out
    return bytes(out), offsets


def _is_vs(ch: str) -> bool:
    return 0xE0100 <= ord(ch) <= 0xE01EF or 0xFE00 <= ord(ch) <= 0xFE0F


def encode_field(text: str, name: str, shifted: bool = True) -> bytes:
    """Encode one value (shifted fields end in single-byte mode); UnicodeEncodeError on the first misfit."""
    return _encode(text, name, shifted)[0]


def char_offset(text: str, index: int, name: str, shifted: bool = True) -> int:
    """Byte offset of ``text[index]`` in its encoding (shift codes counted), for messages and reports."""
    return _encode(text, name, shifted)[1][index]


def char_offsets(raw: bytes, name: str, shifted: bool = True) -> list[int]:
    """Byte offset in `raw` of each character (code point) its strict decode yields (error paths only).

    Exact where re-encoding is not: the source may shift out and back in between two kanji.
    """
    c, look = CODECS[name], _lookups(name)
    pool = c.sbcs.pool + c.dbcs.pool
    out: list[int] = []
    i, double = 0, not shifted
    while i < len(raw):
        if shifted and raw[i : i + len(c.shift_in)] in (c.shift_in, c.alt_shift_in or None):
            i, double = i + len(c.shift_in), True
        elif shifted and raw[i : i + len(c.shift_out)] == c.shift_out:
            i, double = i + len(c.shift_out), False
        elif double:
            hi, lo = raw[i], raw[i + 1] if i + 1 < len(raw) else 0
            if look.to_dbcs is not None:
                hi, lo = int(look.to_dbcs[hi]), int(look.to_dbcs[lo])
            ident = int(look.dbcs_ids[hi << 8 | lo])
            out += [i] * (len(pool[ident]) if ident >= 0 else 1)
            i += 2
        else:
            ident = int(look.sbcs_ids[raw[i]])
            out += [i] * (len(pool[ident]) if ident >= 0 else 1)
            i += 1
    return out


def vendor_code(ch: str, name: str) -> str:
    """The vendor code of one character (a double-byte code without its shifts), as hex."""
    try:
        return encode_field(ch, name, shifted=False).hex().upper()
    except UnicodeEncodeError:
        return encode_field(ch, name).hex().upper()


def _search(name: str) -> codecs.CodecInfo | None:
    key = name.lower().replace("_", "-")
    if key not in CODECS:
        return None

    def enc(text: str, errors: str = "strict") -> tuple[bytes, int]:
        _strict(key, errors)
        return encode_field(text, key), len(text)

    def dec(data: bytes, errors: str = "strict") -> tuple[str, int]:
        _strict(key, errors)
        return decode_field(bytes(data), key), len(data)

    return codecs.CodecInfo(name=key, encode=enc, decode=dec)  # type: ignore[arg-type]


def _strict(name: str, errors: str) -> None:
    if errors != "strict":
        raise ValueError(f"{name}: only errors='strict' is supported (nothing is ever replaced)")


@cache
def register() -> None:
    """Make ``bytes.decode("jef-ebcdic")`` and friends work (shifted fields; idempotent)."""
    codecs.register(_search)
