"""CSV record framing: where each record starts and ends, found on raw bytes, with quoting errors kept to
the record that holds them.

The dialect is RFC 4180 plus line breaks (CR, LF or CRLF) inside quoted fields and a BOM. Records end at an
LF (or CRLF) outside quotes. A quote must open a field (after a delimiter or a line end) or close one
(before a delimiter, a line end or the end of the file), or be doubled inside a quoted field.

Fast path (vectorised, the whole chunk at once): the quotes alternate open/close, so each quote's role is
its parity; every quote is checked against its role, and the LFs outside quotes end the records. Only a
record holding an anomaly (a quote that does not fit its role, or a quoted field longer than
`MAX_QUOTED_BYTES`) is parsed byte by byte (`_scan`), as one record:

- text or a space after a closing quote, or a quote inside an unquoted field: `quote_malformed`
  (a source layout may declare `bare_quotes: literal` to keep a quote inside an unquoted field as text);
- a quoted field that reaches the end of the file, or spans more than `MAX_QUOTED_BYTES`, or whose next
  quote is followed by text after the field crossed a line end: `quote_unclosed`, naming where it opened.

The bad record then ends at the first line end after the anomaly where the record's field count comes out
right (counted with or without its quotes) and a good record follows, or else at the first line end after it; reading goes on from
the next byte with the fast path. So one bad quote costs one record, never the rest of the file.

Over 350 lines on purpose: the vectorised framing and the byte-by-byte scan of an anomalous record
implement one dialect and must change together (the reference reader in tests/ mirrors both).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from midlayout.readers.csvscan import native_framing, scan

LF, CR = 0x0A, 0x0D
_NO_COUNTS = np.empty(0, dtype=np.int64)
# The longest span a quoted field may have (bytes, from its opening quote to its closing one). Longer, it is
# taken for an unclosed quote and rejected with the offset where it opened. Documented in docs/broken-extracts.md.
MAX_QUOTED_BYTES = 65_536
# A chunk's records are framed only up to this far before its end (unless the file ends there): the byte
# parser of an anomalous record looks at most this far ahead.
LOOKAHEAD = 4 * MAX_QUOTED_BYTES + 4096
# The line ends a bad record's end is looked for among (see `_resync`).
RESYNC_LINES = 32


@dataclass(frozen=True)
class Special:
    """A record framed by the byte parser (around an anomaly). Offsets are in the file."""

    start: int
    end: int  # exclusive, before CR/LF
    next: int  # the next record's start
    fields: int  # fields found (for a good record)
    rule: str  # "quote_malformed" / "quote_unclosed", or "" for a record that parsed well
    field_index: int  # the field the rule concerns (0-based)
    field_start: int  # its offset in the record
    message: str


@dataclass
class Framed:
    """The records of a buffer: starts, ends (exclusive, before CR/LF) and next starts (relative to the
    buffer), the byte-parsed records among them (by row) and where framing stopped (the carry's start)."""

    starts: np.ndarray
    ends: np.ndarray
    nexts: np.ndarray
    specials: dict[int, Special]
    consumed: int
    quotes: np.ndarray  # positions of the quote bytes in the buffer (reused for field counts; numpy path)
    counts: np.ndarray | None = None  # fields per record, when the compiled framing counted them


class _Quotes:
    """Quote positions and, for each parity, the anomalous quotes and the LFs outside quotes."""

    def __init__(self, buf: np.ndarray, quote: int, delim: int) -> None:
        self.buf, self.quote, self.delim = buf, quote, delim
        self.n = len(buf)
        self.q = q = np.flatnonzero(buf == quote)
        lfs = np.flatnonzero(buf == LF)
        parity = np.searchsorted(q, lfs) % 2 if len(q) else np.zeros(len(lfs), dtype=np.int64)
        self.outside = (lfs[parity == 0], lfs[parity == 1])
        self._bad: dict[int, np.ndarray] = {}

    def bad(self, parity: int) -> np.ndarray:
        """Indexes of the quotes that do not fit their role, when quote `parity` (0 or 1) opens a field:
        an opening quote must follow a delimiter, an LF or the start (or a closing one, doubled); a closing
        quote must come before a delimiter, a line end or the end (or an opening one, doubled); a quoted
        field may not span more than MAX_QUOTED_BYTES. Computed on first use (parity 1 only after an
        anomaly)."""
        if parity in self._bad:
            return self._bad[parity]
        if not len(self.q):
            return self.q
        buf, q, n = self.buf, self.q, self.n
        openers, closers = q[parity::2], q[1 - parity :: 2]
        before = np.zeros(256, dtype=bool)
        before[[self.delim, LF]] = True
        after = before.copy()
        # The common case first (one gather each), then the few misfits checked for the exceptions.
        ok_open = before[buf[np.maximum(openers - 1, 0)]]
        ok_close = after[buf[np.minimum(closers + 1, n - 1)]]
        if len(openers) and openers[0] == 0:
            ok_open[0] = True
        if len(closers) and closers[-1] == n - 1:
            ok_close[-1] = True
        misfit = np.flatnonzero(~ok_open)
        if len(misfit):  # a doubled quote: the previous quote is just before (it closes; the field goes on)
            k = misfit * 2 + parity
            ok_open[misfit[(k > 0) & (q[np.maximum(k - 1, 0)] == q[k] - 1)]] = True
        misfit = np.flatnonzero(~ok_close)
        if len(misfit):  # a doubled quote, or CRLF (or CR at the end of the data) after the closing one
            k = misfit * 2 + (1 - parity)
            c = q[k]
            doubled = (k + 1 < len(q)) & (q[np.minimum(k + 1, len(q) - 1)] == c + 1)
            crlf = (buf[np.minimum(c + 1, n - 1)] == CR) & (
                (buf[np.minimum(c + 2, n - 1)] == LF) | (c + 2 >= n)
            )
            ok_close[misfit[doubled | crlf]] = True
        # a quoted field may not span more than MAX_QUOTED_BYTES (opening quote k, closing quote k + 1)
        pair = closers[: len(openers)] if parity == 0 else closers[1 : 1 + len(openers)]
        ok_open[: len(pair)] &= pair - openers[: len(pair)] <= MAX_QUOTED_BYTES
        bad_open = np.flatnonzero(~ok_open) * 2 + parity
        bad_close = np.flatnonzero(~ok_close) * 2 + (1 - parity)
        self._bad[parity] = np.sort(np.concatenate((bad_open, bad_close)))
        return self._bad[parity]

    def anomaly(self, r: int) -> tuple[int | None, bool]:
        """The first anomalous quote at or after `r` (a record start), and whether it is an opening quote
        left open at the end of the buffer."""
        j = int(np.searchsorted(self.q, r))
        bad = self.bad(j % 2)
        k = int(np.searchsorted(bad, j))
        if k < len(bad):
            return int(self.q[bad[k]]), False
        if (len(self.q) - j) % 2:
            return int(self.q[-1]), True
        return None, False

    def record_ends(self, r: int, limit: int) -> np.ndarray:
        """LFs outside quotes in [r, limit), quotes counted from `r`."""
        j = int(np.searchsorted(self.q, r))
        lfs = self.outside[j % 2]
        return lfs[np.searchsorted(lfs, r) : np.searchsorted(lfs, limit)]


def frame(
    data: bytes,
    *,
    quote: int,
    delim: int,
    nfields: int,
    eof: bool,
    base: int,
    literal: bool = False,
    known: dict[int, Special] | None = None,
) -> Framed:
    """Frame the records of `data` (which starts at a record start, file offset `base`).

    Not at the end of the file, framing stops before a record that may run past `data` (the caller carries
    the rest from `consumed`). `known` (file offset -> Special) replays the byte-parsed records a planner
    found, so that a worker frames its piece exactly as planned without parsing again."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    native = native_framing()
    quotes = None if native else _Quotes(buf, quote, delim)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    fields: list[np.ndarray] = []
    specials: dict[int, Special] = {}
    count = 0
    r = 0
    consumed = n
    horizon = n if eof else max(n - LOOKAHEAD, 0)
    replay = sorted(o - base for o in known) if known is not None else None

    def add(s: np.ndarray, e: np.ndarray, f: np.ndarray) -> None:
        nonlocal count
        starts.append(s)
        ends.append(e)
        fields.append(f)
        count += len(s)

    while r < n:
        nf, last = _NO_COUNTS, 0
        if replay is not None:
            k = bisect.bisect_left(replay, r)
            a: int | None = replay[k] if k < len(replay) else None
            tail = False
            if quotes is None:
                lfs, nf, _, _, last = scan(
                    buf, r, n if a is None else a, quote, delim, False, MAX_QUOTED_BYTES
                )
        elif quotes is None:
            lfs, nf, found, tail, last = scan(buf, r, n, quote, delim, True, MAX_QUOTED_BYTES)
            a = None if found < 0 else found
        else:
            a, tail = quotes.anomaly(r)
        if quotes is not None:
            lfs = quotes.record_ends(r, n if a is None else a)
        if len(lfs):
            s = np.empty(len(lfs), dtype=np.int64)
            s[0] = r
            s[1:] = lfs[:-1] + 1
            add(s, lfs.astype(np.int64), nf)
        rs = int(lfs[-1]) + 1 if len(lfs) else r
        if a is None or (tail and not eof and n - a <= MAX_QUOTED_BYTES):
            if a is None and eof and rs < n:  # the last record of the file may lack its LF
                add(np.array([rs], dtype=np.int64), np.array([n], dtype=np.int64), np.array([last]))
                rs = n
            consumed = rs
            break
        if replay is not None:  # None when the file changed since it was planned (the caller's count check)
            sp: Special | None = known.get(base + rs) if known is not None else None
        elif rs > horizon:
            consumed = rs
            break
        else:
            sp = _scan(data, rs, quote, delim, nfields, eof, literal, base)
        if sp is None:
            consumed = rs
            break
        specials[count] = sp
        add(
            np.array([sp.start - base], dtype=np.int64),
            np.array([sp.end - base], dtype=np.int64),
            np.array([sp.fields]),
        )
        r = consumed = sp.next - base
    st = np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)
    en = np.concatenate(ends) if ends else np.empty(0, dtype=np.int64)
    nexts = np.minimum(en + 1, n)  # an LF (or the end of the file) ends a framed record
    if len(st):
        idx = np.flatnonzero(en > st)
        crs = idx[buf[en[idx] - 1] == CR]
        en[crs] -= 1
    for row, sp in specials.items():
        en[row] = sp.end - base
        nexts[row] = sp.next - base
    counts = None
    if quotes is None:
        counts = np.concatenate(fields).astype(np.int64) if fields else np.empty(0, dtype=np.int64)
    return Framed(st, en, nexts, specials, consumed, quotes.q if quotes is not None else _NO_COUNTS, counts)


def field_counts(data: bytes, framed: Framed, quote: int, delim: int) -> np.ndarray:
    """Fields in each record: delimiters outside quotes + 1, quotes counted from each record's start (the
    byte parser's count for its records)."""
    st, en = framed.starts, framed.ends
    if not len(st):
        return np.empty(0, dtype=np.int64)
    if framed.counts is not None:  # counted by the compiled framing (byte-parsed records: their own count)
        return framed.counts
    buf = np.frombuffer(data, dtype=np.uint8)
    q = framed.quotes
    d = np.flatnonzero(buf == delim)
    if not framed.specials:  # every record starts after an even number of quotes
        outside = d[np.searchsorted(q, d) % 2 == 0]
        return np.searchsorted(outside, en) - np.searchsorted(outside, st) + 1
    # quotes before each delimiter, relative to its record's start: parity of (quotes before d) - (quotes
    # before the record's start); records never split a quoted field, so this is the record's own parity.
    rec_of_d = np.searchsorted(st, d, side="right") - 1
    valid = rec_of_d >= 0
    d, rec_of_d = d[valid], rec_of_d[valid]
    inside_rec = d < en[rec_of_d]
    d, rec_of_d = d[inside_rec], rec_of_d[inside_rec]
    parity = (np.searchsorted(q, d) - np.searchsorted(q, st[rec_of_d])) % 2
    counts = np.bincount(rec_of_d[parity == 0], minlength=len(st)) + 1
    for row, sp in framed.specials.items():
        counts[row] = sp.fields
    return counts


def _fields_plain(seg: bytes, quote: int, delim: int) -> tuple[int, int]:
    """(fields counting every delimiter, fields counting delimiters outside quotes by quote parity)."""
    inside, n = False, 1
    for b in seg:
        if b == quote:
            inside = not inside
        elif b == delim and not inside:
            n += 1
    return seg.count(bytes([delim])) + 1, n


def _resync(
    data: bytes, start: int, anchor: int, quote: int, delim: int, nfields: int, eof: bool, literal: bool
) -> int | None:
    """Where a bad record ends: the first LF at or after `anchor` where its field count comes out right
    (with or without its quotes) and a good record (or the end of the file) follows, among the first
    `RESYNC_LINES` line ends within `MAX_QUOTED_BYTES` of the anchor; else the first LF after it.
    None when more bytes are needed."""
    n = len(data)
    first = data.find(b"\n", anchor)
    if first == -1:
        return n if eof else None
    e, tried = first, 0
    while e != -1 and e - anchor <= MAX_QUOTED_BYTES and tried < RESYNC_LINES:
        tried += 1
        plain, parity = _fields_plain(data[start:e], quote, delim)
        if nfields in (plain, parity):
            if e + 1 >= n and eof:
                return e
            nxt = _scan(data, e + 1, quote, delim, nfields, eof, literal, 0, probe=True)
            if nxt is not None and not nxt.rule and nxt.fields == nfields:
                return e
        e = data.find(b"\n", e + 1)
    return first


def _scan(
    data: bytes,
    rs: int,
    quote: int,
    delim: int,
    nfields: int,
    eof: bool,
    literal: bool,
    base: int,
    probe: bool = False,
) -> Special | None:
    """Parse one record from `rs` byte by byte (only around an anomaly). None: more bytes are needed.
    `probe`: only whether it is good (a bad record is not resynchronised)."""
    n = len(data)
    qb, db = bytes([quote]), bytes([delim])
    i, fi = rs, 0

    def cut(stop: int) -> tuple[int, int]:
        """(record end before CR/LF, next record start) for an LF at `stop` (or the end of the data)."""
        end = stop - 1 if stop > rs and data[stop - 1] == CR else stop
        return base + end, base + min(stop + 1, n)

    def good(stop: int) -> Special:
        return Special(base + rs, *cut(stop), fi + 1, "", 0, 0, "")

    def bad(rule: str, fstart: int, anchor: int, message: str) -> Special | None:
        if probe:
            return Special(base + rs, base + rs, base + rs, nfields, rule, fi, fstart - rs, message)
        e = _resync(data, rs, anchor, quote, delim, nfields, eof, literal)
        if e is None:
            return None
        return Special(base + rs, *cut(e), nfields, rule, fi, fstart - rs, message)

    while True:
        fstart = i
        if i < n and data[i] == quote:
            opened, i, crossed = i, i + 1, False
            while True:
                j = data.find(qb, i, opened + MAX_QUOTED_BYTES + 1)
                if j == -1:
                    if opened + MAX_QUOTED_BYTES < n:
                        return bad(
                            "quote_unclosed",
                            fstart,
                            opened,
                            f"quote opened at byte {base + opened} is not closed within "
                            f"{MAX_QUOTED_BYTES:,} bytes",
                        )
                    if eof:
                        return bad(
                            "quote_unclosed",
                            fstart,
                            opened,
                            f"quote opened at byte {base + opened} is not closed before the end of the file",
                        )
                    return None
                if data.find(b"\n", i, j) != -1 or data.find(b"\r", i, j) != -1:
                    crossed = True
                if j + 1 < n and data[j + 1] == quote:
                    i = j + 2
                    continue
                if j + 1 >= n and not eof:
                    return None
                i = j + 1
                break
            if i >= n:
                return good(n)
            c = data[i]
            if c == delim:
                i, fi = i + 1, fi + 1
                continue
            if c == LF:
                return good(i)
            if c == CR and (i + 1 >= n or data[i + 1] == LF):
                return good(min(i + 1, n))
            if crossed:
                return bad(
                    "quote_unclosed",
                    fstart,
                    opened,
                    f"quote opened at byte {base + opened} is not closed on its line "
                    f"(the next quote, at byte {base + i - 1}, is followed by text)",
                )
            what = "a space" if c == 0x20 else "text"
            return bad("quote_malformed", fstart, i, f"{what} after the closing quote at byte {base + i - 1}")
        d = data.find(db, i)
        lf = data.find(b"\n", i)
        stop = min(x for x in (d, lf, n) if x != -1)
        if stop == n and not eof:
            return None
        bare = data.find(qb, i, stop)
        if bare != -1 and not literal:
            return bad(
                "quote_malformed", fstart, bare, f"quote inside an unquoted field at byte {base + bare}"
            )
        if stop == n:
            return good(n)
        if stop == d:
            i, fi = stop + 1, fi + 1
            continue
        return good(stop)


def requote(raw: bytes, quote: int, delim: int) -> bytes:
    """A record that parsed with quotes kept as text (`bare_quotes: literal`), written again with every
    field quoted (and its quotes doubled), so that a strict parser reads the same values."""
    q, d = bytes([quote]), bytes([delim])
    fields, i, n = [], 0, len(raw)
    while True:
        if i < n and raw[i] == quote:
            value, i = bytearray(), i + 1
            while i < n:
                if raw[i] == quote:
                    if i + 1 < n and raw[i + 1] == quote:
                        value += q
                        i += 2
                        continue
                    i += 1
                    break
                value.append(raw[i])
                i += 1
            fields.append(bytes(value))
        else:
            stop = raw.find(d, i)
            stop = n if stop == -1 else stop
            fields.append(raw[i:stop])
            i = stop
        if i >= n:
            break
        i += 1  # the delimiter
    return d.join(q + f.replace(q, q + q) + q for f in fields)
