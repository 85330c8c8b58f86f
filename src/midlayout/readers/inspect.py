"""`inspect`: what an unknown extract is — encoding (a chardet guess, confirmed or refuted by a strict
decode of the whole file), BOM and line endings, fixed-width record length or CSV dialect, a masked
preview — and a draft source layout for the user to edit."""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from midlayout.errors import InputError, Location
from midlayout.readers.decode import is_ebcdic, is_host
from midlayout.text import ebcdic
from midlayout.text.encodings import CODECS, DETECTED

SAMPLE = 1 << 16
CHUNK = 16 << 20
PREVIEW = 5
_BOMS = {b"\xef\xbb\xbf": "utf-8", b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


@dataclass
class Inspection:
    """Everything `midlayout inspect` reports (the `--json` output is this, as a dict)."""

    path: str
    size: int
    bom: str | None = None
    line_endings: dict[str, int] = field(default_factory=dict)
    encoding: dict[str, Any] = field(default_factory=dict)
    kind: str = "unknown"  # fixed | csv | unknown
    fixed: dict[str, Any] | None = None
    csv: dict[str, Any] | None = None
    preview: list[str] = field(default_factory=list)
    preview_masked: bool = True

    @property
    def confirmed(self) -> str | None:
        return self.encoding.get("confirmed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _strict_decode(path: Path, encoding: str) -> tuple[bool, int | None, str | None]:
    """Decode the whole file strictly, chunk by chunk: (ok, byte of the first fault, reason)."""
    codec = CODECS[encoding]
    if is_ebcdic(codec):
        data = path.read_bytes()  # stateful: one call over the whole file
        try:
            ebcdic.decode(data, codec)
        except UnicodeDecodeError as exc:
            return False, exc.start, exc.reason
        return True, None, None
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    base = 0
    with path.open("rb") as fh:
        if encoding == "utf-8-sig":
            fh.seek(3)
            base = 3
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return False, base + exc.start, exc.reason
            base += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return False, base, exc.reason
    return True, None, None


def _looks_ebcdic(sample: bytes) -> bool:
    if not sample:
        return False
    buf = np.frombuffer(sample, dtype=np.uint8)
    ebc_space, ascii_space = np.mean(buf == 0x40), np.mean(buf == 0x20)
    return bool((np.any(buf == 0x0E) and np.any(buf == 0x0F)) or (ebc_space > 0.05 and ascii_space < 0.01))


def _encoding(path: Path, sample: bytes, bom: str | None) -> dict[str, Any]:
    import chardet

    found = chardet.detect(sample)
    guess = (found.get("encoding") or "").lower() or None
    host = _host(path, sample)
    if host is not None and host["candidates"]:
        return host
    candidates = []
    if bom == "utf-8":
        candidates.append("utf-8-sig")
    if _looks_ebcdic(sample) and ebcdic.available("ibm930"):
        candidates += ["ibm930", "ibm939"]
    if guess in DETECTED:
        candidates.append(DETECTED[guess])
    candidates += ["cp932", "utf-8", "euc-jp"]
    tried, confirmed = [], None
    for enc in dict.fromkeys(candidates):
        ok, byte, reason = _strict_decode(path, enc)
        tried.append({"encoding": enc, "ok": ok, "byte": byte, "reason": reason})
        if ok:
            confirmed = enc
            break
    verdict = "confirmed" if confirmed and DETECTED.get(guess or "") == confirmed else "refuted"
    return {
        "guess": guess,
        "confidence": round(float(found.get("confidence") or 0), 3),
        "guess_verdict": verdict,
        "confirmed": confirmed,
        "tried": tried,
    }


def _host(path: Path, sample: bytes) -> dict[str, Any] | None:
    """JEF/KEIS/JIPS (readers/inspect_host.py): confirmed when exactly one passes, else tied candidates."""
    from midlayout.readers.inspect_host import host_encoding

    found = host_encoding(path, sample)
    if found is None:
        return None
    passed = found["candidates"]
    return {
        "guess": None,
        "confidence": 0.0,
        "guess_verdict": "not asked (mainframe shift codes or double-byte evidence)",
        "confirmed": passed[0] if len(passed) == 1 else None,
        "tied": passed if len(passed) > 1 else [],
        "tried": [
            {"encoding": t["label"], "ok": t["ok"], "byte": t["byte"], "reason": t["reason"]}
            for t in found["tried"]
        ],
        "candidates": passed,
        "evidence": found["evidence"],
        "window": found["window"],
    }


def _line_endings(path: Path) -> tuple[dict[str, int], np.ndarray]:
    """Counts of CRLF, lone LF and lone CR, and the LF positions (whole file, chunked)."""
    crlf = lf = cr = 0
    lfs = []
    base, prev = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            buf = np.frombuffer(chunk, dtype=np.uint8)
            pos = np.flatnonzero(buf == 0x0A)
            before = np.where(pos > 0, buf[np.maximum(pos - 1, 0)], prev[-1] if prev else 0)
            crlf += int(np.sum(before == 0x0D))
            lf += int(np.sum(before != 0x0D))
            cr += int(np.sum(buf == 0x0D))
            lfs.append(pos + base)
            base += len(chunk)
            prev = chunk
    cr -= crlf
    return {"crlf": crlf, "lf": lf, "cr": cr}, np.concatenate(lfs) if lfs else np.zeros(0, dtype=np.int64)


def _period(data: bytes, size: int) -> int | None:
    """Record length of a file of `size` bytes without newlines, from its first bytes `data`: the
    period (dividing `size`) whose byte columns are most uniform."""
    buf = np.frombuffer(data, dtype=np.uint8)
    kind = np.select(
        [
            (buf >= 0x30) & (buf <= 0x39),
            (buf == 0x20) | (buf == 0x40),
            (buf >= 0xF0) & (buf <= 0xF9),
            buf >= 0x80,
        ],
        [0, 1, 2, 3],
        4,
    )
    scores = {}
    for length in range(2, min(4096, len(data) // 2) + 1):
        if size % length:
            continue
        cols = kind[: len(kind) // length * length].reshape(-1, length)
        counts = np.stack([(cols == k).sum(axis=0) for k in range(5)])
        scores[length] = float(counts.max(axis=0).mean() / cols.shape[0])
    if not scores or max(scores.values()) < 0.9:
        return None
    # Multiples of the true length score as well or better (they average fewer records): take the
    # shortest length that comes close to the best.
    best = max(scores.values())
    return min(length for length, score in scores.items() if score >= best - 0.05)


def _fixed(path: Path, ends: dict[str, int], lfs: np.ndarray, size: int) -> dict[str, Any] | None:
    term = "crlf" if ends["crlf"] and not ends["lf"] else "lf" if ends["lf"] and not ends["crlf"] else None
    if term and len(lfs) >= 2:
        starts = np.concatenate(([0], lfs[:-1] + 1))
        lengths = lfs - starts - (1 if term == "crlf" else 0)
        tail = size - int(lfs[-1]) - 1
        if len(set(lengths.tolist())) == 1 and tail in (0, int(lengths[0])):
            return {
                "record_length": int(lengths[0]),
                "terminator": term,
                "records": len(lfs) + (1 if tail else 0),
                "how": "every line has the same byte length",
            }
        return None
    if ends["crlf"] or ends["lf"] or ends["cr"]:
        return None
    with path.open("rb") as fh:
        data = fh.read(min(size, 1 << 20))
    length = _period(data, size)
    if length is None or size % length:
        return None
    return {
        "record_length": length,
        "terminator": "none",
        "records": size // length,
        "how": "no newlines; the period with the most uniform byte columns (a guess: check it)",
    }


def mask(text: str) -> str:
    """Hide a value but keep its shape: 9 for digits, X/x for letters, ｶ for half-width kana, Ｘ for
    other full-width characters; spaces and punctuation stay."""
    out = re.sub(r"[A-Za-z]", "X", re.sub(r"[0-9]", "9", text))
    out = re.sub(r"[Ａ-Ｚａ-ｚ]", "Ｘ", re.sub(r"[０-９]", "９", out))
    out = re.sub(r"[\uff66-\uff9f]", "ｶ", out)
    return re.sub(r"[^\x00-\x7f\u3000\uff61-\uff65ｶ９Ｘ、。，．・－ー（）]", "Ｘ", out)


def _records(path: Path, info: Inspection, codec: str, n: int) -> list[str]:
    with path.open("rb") as fh:
        data = fh.read(SAMPLE)
    if info.bom:
        data = data[3:]
    if info.fixed and info.fixed["terminator"] == "none":
        length = info.fixed["record_length"]
        raws = [data[i : i + length] for i in range(0, min(len(data), n * length), length)]
    else:
        raws = data.split(b"\n")[:n]
    out = []
    for raw in raws:
        try:
            out.append(raw.rstrip(b"\r").decode(codec))
        except UnicodeDecodeError:
            out.append(f"<{len(raw)} bytes that are not valid {codec}>")
    return [r for r in out if r]


def _csv(lines: list[str]) -> dict[str, Any] | None:
    sample = "\n".join(lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        return None
    header = next(csv.reader([lines[0]], delimiter=dialect.delimiter, quotechar=dialect.quotechar))
    return {
        "delimiter": dialect.delimiter,
        "quote": dialect.quotechar,
        "header": header,
        "columns": len(header),
    }


def inspect_file(path: Path, show_values: bool = False, preview: int = PREVIEW) -> Inspection:
    """Inspect `path`; InputError when it does not exist."""
    if path.is_dir():
        raise InputError("is a directory, not a file", Location(file=str(path)))
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    size = path.stat().st_size
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE)
    info = Inspection(str(path), size, preview_masked=not show_values)
    info.bom = next((name for bom, name in _BOMS.items() if sample.startswith(bom)), None)
    info.encoding = _encoding(path, sample, info.bom)
    info.line_endings, lfs = _line_endings(path)
    if "evidence" in info.encoding:  # JEF/KEIS/JIPS: records without terminators; 0x0A is a KEIS shift byte
        info.line_endings, lfs = {"crlf": 0, "lf": 0, "cr": 0}, np.zeros(0, dtype=np.int64)
    info.fixed = _fixed(path, info.line_endings, lfs, size - (3 if info.bom == "utf-8" else 0))
    first = info.confirmed or next(iter(info.encoding.get("candidates") or []), "")
    codec = CODECS.get(first, "cp932")
    lines = _records(path, info, codec, max(preview, 20))
    if info.fixed:
        info.kind = "fixed"
    elif lines and (found := _csv(lines)) is not None:
        info.kind, info.csv = "csv", found
    shown = lines[: preview + (1 if info.kind == "csv" else 0)]
    if not show_values:  # a CSV header names columns, not people: it stays readable
        shown = shown[:1] + [mask(s) for s in shown[1:]] if info.kind == "csv" else [mask(s) for s in shown]
    info.preview = shown
    return info


def _ident(stem: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", stem).strip("_").lower() or "file"
    return ident if not ident[0].isdigit() else f"f_{ident}"


def _fixed_fields(path: Path, info: Inspection) -> list[dict[str, Any]]:
    """Fields from column classes of the sample: each run of used columns plus its padding, cut only
    where every sample record has a character boundary (never inside a double-byte character)."""
    length = info.fixed["record_length"]  # type: ignore[index]
    codec = CODECS[info.confirmed or "cp932"]
    with path.open("rb") as fh:
        data = fh.read(SAMPLE)
    stride = length + {"crlf": 2, "lf": 1, "none": 0}[info.fixed["terminator"]]  # type: ignore[index]
    recs = [data[i : i + length] for i in range(0, len(data) - length + 1, stride)][:200]
    if is_host(codec) or not recs:
        return [{"id": "F01", "start": 1, "length": length, "note": "split me"}]
    starts = set(range(length + 1))
    for rec in recs:
        try:
            text = rec.decode(codec)
        except UnicodeDecodeError:
            continue
        offsets = np.cumsum([0] + [len(ch.encode(codec)) for ch in text])
        starts &= set(offsets.tolist())
    cols = np.frombuffer(b"".join(recs), dtype=np.uint8).reshape(len(recs), length)
    blank: np.ndarray = np.asarray(((cols == 0x20) | (cols == 0x40)).all(axis=0))
    digits: np.ndarray = np.asarray(((cols >= 0x30) & (cols <= 0x39)).all(axis=0))
    cuts = [0] + [p for p in range(1, length) if p in starts and blank[p - 1] and not blank[p]] + [length]
    fields = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        field: dict[str, Any] = {"id": f"F{i + 1:02d}", "start": a + 1, "length": b - a}
        if digits[a:b].any() and (digits[a:b] | blank[a:b]).all():
            field["note"] = "digits in every sample record: zoned?"
        fields.append(field)
    return fields


def draft_layout(path: Path, info: Inspection) -> dict[str, Any]:
    """A source layout (as YAML data) that `load_source` accepts, for the user to edit."""
    if info.kind == "unknown" or not info.confirmed:
        raise InputError(
            "cannot draft a layout: the format or the encoding is not known", Location(file=str(path))
        )
    head: dict[str, Any] = {
        "id": _ident(path.stem),
        "name": f"{path.name} (draft: edit ids, names and types)",
        "format": info.kind,
        "encoding": info.confirmed,
        "match": path.name,
    }
    if info.kind == "fixed":
        assert info.fixed is not None
        head |= {
            "record_length": info.fixed["record_length"],
            "terminator": info.fixed["terminator"],
            "offset_base": 1,
            "fields": _fixed_fields(path, info),
        }
    else:
        assert info.csv is not None
        head |= {
            "header": True,
            "delimiter": info.csv["delimiter"],
            "quote": info.csv["quote"],
            "fields": [{"id": f"C{i + 1:02d}", "column": name} for i, name in enumerate(info.csv["header"])],
        }
    return {
        "vendor": "draft",
        "name": f"draft source layout from midlayout inspect {path.name}",
        "files": [head],
    }
