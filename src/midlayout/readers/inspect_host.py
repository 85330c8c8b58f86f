"""`inspect` for Fujitsu JEF, Hitachi KEIS and NEC JIPS extracts: shift-code and byte evidence, then a strict decode.

Evidence first (cheap, on the sample): each vendor's shift codes (JEF 0x28/0x38…0x29, KEIS 0x0A42…0x0A41,
JIPS(J) 0x1A70…0x1A71, JIPS(E) 0x3F75…0x3F76) in matching numbers; for data without any shift code, the
EBCDIC space 0x40 and a byte distribution in the double-byte range. Then every encoding the evidence
points at is decoded strictly (the whole file, or its first `WINDOW` bytes). Several can pass: the
single-byte variants of one vendor share their shift codes, and shift-less double-byte data can be valid
in more than one table. Those are reported as tied candidates, never picked silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from midlayout.text import mainframe

WINDOW = 64 << 20  # bytes decoded strictly; larger files are judged on their first WINDOW bytes
_SHIFTED = {
    "JEF": ("jef-ebcdik", "jef-ebcdic", "jef-ascii"),
    "KEIS": ("keis83-ebcdik", "keis83-ebcdic", "keis78-ebcdik", "keis78-ebcdic"),
    "JIPS(J)": ("jipsj-jis8", "jipsj-ebcdik"),
    "JIPS(E)": ("jipse-ebcdik",),
}
# Shift-less double-byte data: one encoding per distinct double-byte table.
_DBCS_ONLY = ("jef-ebcdik", "keis83-ebcdik", "keis78-ebcdik", "jipsj-jis8", "jipse-ebcdik")


def _count(buf: np.ndarray, code: bytes) -> int:
    if len(code) == 1:
        return int(np.count_nonzero(buf == code[0]))
    return int(np.count_nonzero((buf[:-1] == code[0]) & (buf[1:] == code[1])))


def shift_evidence(sample: bytes) -> dict[str, dict[str, int]]:
    """Per vendor family: how many shift-in and shift-out codes the sample holds."""
    buf = np.frombuffer(sample, dtype=np.uint8)
    out = {}
    for family, names in _SHIFTED.items():
        c = mainframe.CODECS[names[0]]
        ins = _count(buf, c.shift_in) + (_count(buf, c.alt_shift_in) if c.alt_shift_in else 0)
        out[family] = {"shift_in": ins, "shift_out": _count(buf, c.shift_out)}
    return out


def _decodes(data: bytes, name: str, shifted: bool, cut: bool) -> tuple[bool, int | None, str | None]:
    if not shifted and len(data) % 2:
        data = data[:-1] if cut else data
    _, fails = mainframe.decode_matrix(np.frombuffer(data, dtype=np.uint8).reshape(1, -1), name, shifted)
    if not fails:
        return True, None, None
    _, pos, rule, message = fails[0]
    if cut and rule == "char_cut":  # the window ends inside a character or a double-byte run
        return True, None, None
    return False, pos, message


def host_encoding(path: Path, sample: bytes) -> dict[str, Any] | None:
    """Evidence and strict-decode results for JEF/KEIS/JIPS, or None when nothing points at them."""
    evidence = shift_evidence(sample)
    families = [
        f
        for f, e in evidence.items()
        if e["shift_in"] and abs(e["shift_in"] - e["shift_out"]) <= 1 + e["shift_in"] // 100
    ]
    buf = np.frombuffer(sample, dtype=np.uint8)
    ebcdic_space = float(np.mean(buf == 0x40)) if len(buf) else 0.0
    double_range = float(np.mean(buf >= 0x40)) if len(buf) else 0.0
    no_shifts = not any(e["shift_in"] or e["shift_out"] for e in evidence.values())
    dbcs_only = no_shifts and double_range > 0.95 and ebcdic_space > 0.02 and not np.any(buf == 0x0E)
    if not families and not dbcs_only:
        return None
    size = path.stat().st_size
    with path.open("rb") as fh:
        data = fh.read(WINDOW)
    cut = size > len(data)
    tried = []
    trials = [(n, True) for f in families for n in _SHIFTED[f]] + [
        (n, False) for n in _DBCS_ONLY if dbcs_only
    ]
    for name, shifted in trials:
        ok, byte, reason = _decodes(data, name, shifted, cut)
        label = name if shifted else f"{name} (double-byte only)"
        tried.append(
            {"encoding": name, "shifted": shifted, "label": label, "ok": ok, "byte": byte, "reason": reason}
        )
    passed = [t["encoding"] for t in tried if t["ok"]]
    return {
        "evidence": {
            "shifts": evidence,
            "ebcdic_space_share": round(ebcdic_space, 3),
            "double_byte_range_share": round(double_range, 3),
        },
        "tried": tried,
        "candidates": passed,
        "window": len(data) if cut else None,
        "shifted": not dbcs_only,
    }
