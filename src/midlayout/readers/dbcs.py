"""Shift-less double-byte text (COBOL `PIC N` / `PIC G`): one decoder per encoding, chosen by a small table.

A `dbcs` field holds only 2-byte characters and no shift codes. Host code pages (IBM930/939/1390/1399)
decode it as if it were wrapped in SO … SI; CP932 and EUC-JP decode it as text and then require every
character to be double-byte (a 1-byte or 3-byte character in a `dbcs` field is a reject, never folded).
Fujitsu JEF, Hitachi KEIS and NEC JIPS decode it with text/mainframe's tables in double-byte mode from
the first byte (`shifted=False`): an undefined code, half a character or a character cut at the field
end is a reject at its byte, and a user-defined code stays a 外字 for the 外字 table (vendor code).
Another encoding family adds itself with `register`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from midlayout import kernels
from midlayout.readers.decode import DecodeFailure
from midlayout.text import mainframe
from midlayout.text.ebcdic import CHARSETS, SI, SO

DbcsDecoder = Callable[[np.ndarray, str], tuple[pa.Array, list[DecodeFailure]]]
DECODERS: dict[str, DbcsDecoder] = {}


def register(codec: str, decoder: DbcsDecoder) -> None:
    """Use `decoder(values, codec)` for `dbcs` fields of `codec` (an (n × width) uint8 matrix)."""
    DECODERS[codec] = decoder


def decode_dbcs(values: np.ndarray, codec: str) -> tuple[pa.Array, list[DecodeFailure]]:
    """Decode a `dbcs` field; failures carry the row and the byte offset within the field."""
    try:
        decoder = DECODERS[codec]
    except KeyError:
        raise ValueError(f"no shift-less double-byte decoder for {codec}") from None
    return decoder(values, codec)


def _wrapped(values: np.ndarray, codec: str) -> tuple[pa.Array, list[DecodeFailure]]:
    """EBCDIC: SO + field + SI, decoded by the strict host codec; offsets point back into the field."""
    n, width = values.shape
    framed = np.empty((n, width + 2), dtype=np.uint8)
    framed[:, 0] = SO
    framed[:, 1 : width + 1] = values
    framed[:, width + 1] = SI
    shifts = np.flatnonzero(((values == SO) | (values == SI)).any(axis=1))
    arr, failures = kernels.active().decode_column(framed, codec, False)
    out = [DecodeFailure(f.row, min(max(f.byte - 1, 0), width - 1), f.rule, f.message) for f in failures]
    if len(shifts):  # a shift code inside a shift-less field: the field was not PIC N after all
        arr = pc.if_else(_mask(n, shifts), pa.nulls(n, arr.type), arr)
        seen = {f.row for f in out}
        for row in shifts.tolist():
            if row not in seen:
                byte = int(np.flatnonzero((values[row] == SO) | (values[row] == SI))[0])
                out.append(DecodeFailure(row, byte, "dbcs_shift", "shift code in a double-byte field"))
    return arr, sorted(out, key=lambda f: f.row)


def _mask(n: int, rows: np.ndarray) -> pa.Array:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pa.array(mask)


# Characters that are one byte in CP932 / EUC-JP: ASCII and half-width katakana (EUC-JP's 8E xx).
_SINGLE = r"[\x{00}-\x{7f}\x{ff61}-\x{ff9f}]"  # RE2 syntax


def _double_only(values: np.ndarray, codec: str) -> tuple[pa.Array, list[DecodeFailure]]:
    """CP932 / EUC-JP: strict decode, then every character must take exactly two bytes."""
    n, width = values.shape
    arr, failures = kernels.active().decode_column(values, codec, False)
    bad_len = pc.not_equal(pc.utf8_length(arr), width // 2)
    bad = pc.fill_null(pc.or_(bad_len, pc.match_substring_regex(arr, _SINGLE)), False)
    rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
    if not len(rows):
        return arr, failures
    texts = arr.to_pylist()
    for row in rows.tolist():
        text = texts[row]
        byte = 0
        for ch in text:
            size = len(ch.encode(codec))
            if size != 2 or ch.isascii():
                break
            byte += size
        failures.append(DecodeFailure(row, byte, "dbcs_single", "not a double-byte character"))
    arr = pc.if_else(_mask(n, rows), pa.nulls(n, arr.type), arr)
    return arr, sorted(failures, key=lambda f: f.row)


def _host(values: np.ndarray, codec: str) -> tuple[pa.Array, list[DecodeFailure]]:
    """JEF / KEIS / JIPS: the codec's tables, every byte pair a double-byte code (no shift codes)."""
    arr, fails = mainframe.decode_matrix(values, codec, shifted=False)
    return arr, [DecodeFailure(row, byte, rule, message) for row, byte, rule, message in fails]


for _name in CHARSETS:
    register(_name, _wrapped)
for _name in ("cp932", "shift_jis", "euc_jp"):
    register(_name, _double_only)
for _name in mainframe.CODECS:
    register(_name, _host)
