"""The CSV framing fast path as one compiled pass over the bytes (numba), instead of the vectorised numpy
passes of `csvframe._Quotes` and `csvframe.field_counts`.

From a record start it walks the bytes once, keeping the quote parity: an LF outside quotes ends a
record (and the delimiters outside quotes since its start give its field count), and each quote is
checked against its role exactly as `_Quotes.bad` checks it (an opening quote after a delimiter, an LF,
the start of the buffer or a closing quote; a closing one before a delimiter, an LF, CRLF, a CR ending
the buffer, the end of the buffer or an opening quote; at most `MAX_QUOTED_BYTES` from opening to
closing). It stops at the first quote that does not fit, or at the end with a quote left open; the
caller then parses that record byte by byte (`csvframe._scan`) as before.

`MIDLAYOUT_DECODER=python` selects the numpy path (the reference); tests compare the two on random and
broken input. numba is imported on the first use, through `midlayout.jit` (cache guarded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from midlayout.readers.native import decoder

LF, CR = 0x0A, 0x0D


def native_framing() -> bool:
    """True when the compiled framing is selected (`MIDLAYOUT_DECODER`, default native)."""
    return decoder() == "native"


def _scan_source(
    buf: np.ndarray, r: int, limit: int, quote: int, delim: int, check: bool, maxq: int
) -> tuple[np.ndarray, np.ndarray, int, bool, int]:  # pragma: no cover - compiled by numba
    """LFs outside quotes in [r, limit) and each record's field count; the first anomalous quote at or
    after `r` (-1: none; only when `check`), whether it is an opening quote left open at the end, and the
    field count of the bytes after the last LF."""
    n = buf.shape[0]
    cap = 0  # at most one record per LF (arrays grown inside the loop slow it down tenfold)
    for j in range(r, limit):
        if buf[j] == LF:
            cap += 1
    ends = np.empty(cap, np.int64)
    fields = np.empty(cap, np.int64)
    count = 0
    inq = False
    opened = -1
    nf = 1
    anomaly = -1
    tail = False
    i = r
    while i < limit:
        b = buf[i]
        if b == quote:
            if not inq:
                if check and i > 0:
                    p = buf[i - 1]
                    if p != delim and p != LF and p != quote:
                        anomaly = i
                        break
                inq = True
                opened = i
            else:
                if check:
                    if i - opened > maxq:
                        anomaly = opened
                        break
                    if i + 1 < n:
                        x = buf[i + 1]
                        if not (
                            x == delim
                            or x == LF
                            or x == quote
                            or (x == CR and (i + 2 >= n or buf[i + 2] == LF))
                        ):
                            anomaly = i
                            break
                inq = False
        elif not inq:
            if b == delim:
                nf += 1
            elif b == LF:
                ends[count] = i
                fields[count] = nf
                count += 1
                nf = 1
        i += 1
    if check and anomaly < 0 and inq:
        anomaly = opened
        tail = True
    return ends[:count], fields[:count], anomaly, tail, nf


def _warm(fn: Any) -> None:
    """Compile (or load) both signatures the reader uses: a view of bytes read (read-only) and an array."""
    for data in (np.zeros(4, np.uint8), np.frombuffer(b'"a",\n', np.uint8)):
        fn(data, 0, len(data), 34, 44, True, 65536)


def scan(
    buf: np.ndarray, r: int, limit: int, quote: int, delim: int, check: bool, maxq: int
) -> tuple[np.ndarray, np.ndarray, int, bool, int]:
    """`_scan_source`, compiled (numba is imported here, on first use)."""
    from midlayout import jit

    fn = jit.kernel(_scan_source, _warm)
    ends, fields, anomaly, tail, nf = fn(buf, r, limit, quote, delim, check, maxq)
    return ends, fields, int(anomaly), bool(tail), int(nf)
