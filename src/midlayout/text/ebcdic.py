"""Japanese EBCDIC codecs (IBM930, IBM939, IBM1390, IBM1399) backed by the system's glibc iconv.

Python has no codec for the stateful IBM host code pages, so this module calls glibc's iconv through
ctypes: one call decodes a whole buffer (a framed column), never one value at a time. Once `register()`
has run, ``bytes.decode("ibm930")`` and ``str.encode("ibm930")`` work like any codec.

iconv is lenient where we are strict: it accepts a field that ends in double-byte mode, a doubled SO
and a stray SI. `check_shifts` rejects those first, vectorised, with the byte offset of the fault.
"""

from __future__ import annotations

import codecs
import ctypes
import ctypes.util
import errno
from functools import cache

import numpy as np

SO, SI = 0x0E, 0x0F
# EBCDIC LF (0x25) decodes to U+000A in every code page below and is never a byte of a DBCS pair
# (those are 0x41-0xFE, plus the DBCS space 0x4040), so it frames values like LF does in CP932.
SEP = 0x25

# Our codec name -> glibc's charset name.
CHARSETS = {"ibm930": "IBM930", "ibm939": "IBM939", "ibm1390": "IBM1390", "ibm1399": "IBM1399"}

_UNBALANCED = "unbalanced shift-out/shift-in"
_CUT = "incomplete multibyte sequence"


class IconvUnavailable(LookupError):
    """The system's C library has no iconv, or no converter for the code page."""


@cache
def _libc() -> ctypes.CDLL:
    name = ctypes.util.find_library("c")
    if not name:
        raise IconvUnavailable("no C library found for iconv")
    libc = ctypes.CDLL(name, use_errno=True)
    libc.iconv_open.restype = ctypes.c_void_p
    libc.iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.iconv.restype = ctypes.c_size_t
    libc.iconv.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    libc.iconv_close.argtypes = [ctypes.c_void_p]
    return libc


def _convert(data: bytes, to: str, frm: str) -> tuple[bytes, int | None]:
    """Convert `data` in one iconv call; returns (output, offset of the first bad input byte or None)."""
    libc = _libc()
    cd = libc.iconv_open(to.encode(), frm.encode())
    if cd in (None, ctypes.c_void_p(-1).value):
        raise IconvUnavailable(f"iconv cannot convert {frm} to {to} on this system (glibc iconv is needed)")
    try:
        size = len(data) * 4 + 16
        out = ctypes.create_string_buffer(size)
        inbuf = ctypes.c_char_p(data)
        inleft = ctypes.c_size_t(len(data))
        outptr = ctypes.cast(out, ctypes.c_char_p)
        outleft = ctypes.c_size_t(size)
        rc = libc.iconv(
            cd, ctypes.byref(inbuf), ctypes.byref(inleft), ctypes.byref(outptr), ctypes.byref(outleft)
        )
        bad = None
        if rc == ctypes.c_size_t(-1).value:
            err = ctypes.get_errno()
            if err not in (errno.EILSEQ, errno.EINVAL):
                raise OSError(err, f"iconv failed converting {frm} to {to}")
            bad = len(data) - inleft.value
        else:  # flush: a stateful target ends with SI if it was in double-byte mode
            libc.iconv(cd, None, None, ctypes.byref(outptr), ctypes.byref(outleft))
        return out.raw[: size - outleft.value], bad
    finally:
        libc.iconv_close(cd)


def check_shifts(data: bytes) -> tuple[int, str] | None:
    """(offset, reason) of the first SO/SI fault in a single value, or None when well formed.

    SO and SI must alternate starting with SO, the value must end in single-byte mode, and each
    double-byte run must have an even length. 0x0E/0x0F never occur inside a DBCS pair.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    shifts = np.flatnonzero((buf == SO) | (buf == SI))
    kinds = buf[shifts]
    expected = np.where(np.arange(len(shifts)) % 2 == 0, SO, SI)
    wrong = np.flatnonzero(kinds != expected)
    if len(wrong):
        return int(shifts[wrong[0]]), _UNBALANCED
    if len(shifts) % 2:  # ends in double-byte mode: the SI (or half a character) was cut off
        return len(buf) - 1, _CUT
    runs = shifts[1::2] - shifts[0::2] - 1
    odd = np.flatnonzero(runs % 2)
    if len(odd):
        return int(shifts[1::2][odd[0]]) - 1, _CUT
    return None


def decode(data: bytes, name: str, errors: str = "strict") -> tuple[str, int]:
    """Decode EBCDIC `data` strictly; UnicodeDecodeError with the offset of the first fault."""
    if errors != "strict":
        raise ValueError(f"{name}: only errors='strict' is supported (nothing is ever replaced)")
    data = bytes(data)
    fault = check_shifts(data)
    if fault is not None:
        raise UnicodeDecodeError(name, data, fault[0], min(fault[0] + 1, len(data)), fault[1])
    out, bad = _convert(data, "UTF-8", CHARSETS[name])
    if bad is not None:  # shifts are balanced, so this is an unmapped byte or pair, never a cut
        raise UnicodeDecodeError(name, data, bad, min(bad + 1, len(data)), "illegal multibyte sequence")
    return out.decode("utf-8"), len(data)


def encode(text: str, name: str, errors: str = "strict") -> tuple[bytes, int]:
    """Encode `text` into EBCDIC (ending in single-byte mode); UnicodeEncodeError on the first misfit."""
    if errors != "strict":
        raise ValueError(f"{name}: only errors='strict' is supported")
    raw = text.encode("utf-8")
    out, bad = _convert(raw, CHARSETS[name], "UTF-8")
    if bad is not None:
        pos = len(raw[:bad].decode("utf-8", errors="ignore"))
        raise UnicodeEncodeError(name, text, pos, pos + 1, "not encodable")
    return out, len(text)


def _search(name: str) -> codecs.CodecInfo | None:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in CHARSETS:
        return None
    return codecs.CodecInfo(
        name=key,
        encode=lambda text, errors="strict": encode(text, key, errors),
        decode=lambda data, errors="strict": decode(data, key, errors),
    )


@cache
def register() -> None:
    """Make the EBCDIC codecs known to Python's codec registry (idempotent)."""
    codecs.register(_search)


def char_offset(text: str, index: int, name: str) -> int:
    """Byte offset of ``text[index]`` in its EBCDIC encoding (SO/SI counted), for messages."""
    upto = encode(text[: index + 1], name)[0]
    own = encode(text[index], name)[0]
    return len(upto) - (3 if own[:1] == bytes([SO]) else len(own))


def available(name: str) -> bool:
    """True when this system's iconv can decode `name`."""
    try:
        _convert(b"\xf0", "UTF-8", CHARSETS[name])
    except (IconvUnavailable, KeyError):
        return False
    return True
