"""Checks on each input before its first batch: an extract whose framing or encoding cannot be what its
source layout declares stops the run with one line (exit 2), instead of being read as something else.

- a directory, an empty file (unless allowed), a compressed file or a spreadsheet (magic bytes);
- fixed-width: the declared terminator missing at the first record boundaries, line ends inside every
  record at one place (records shorter than declared), a size no whole number of records fits;
- a strict decode of a sample that fails under the declared encoding while another candidate passes
  (both are named).

Each check reads at most `SAMPLE_BYTES` from the start of the file. docs/broken-extracts.md lists them.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from midlayout.errors import InputError, Location
from midlayout.layout.source import SourceFile
from midlayout.readers.decode import is_host
from midlayout.text.encodings import CODECS

SAMPLE_BYTES = 1 << 20
SAMPLE_RECORDS = 1000
# Encodings tried when the declared one fails on the sample (EBCDIC is never guessed).
CANDIDATES = ("cp932", "euc-jp", "utf-8")
_MAGIC = (
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"BZh", "a bzip2-compressed file", "decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it first (unxz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 (.xls) or other OLE2 file", "export it as CSV"),
    (b"%PDF", "a PDF document", "ask the vendor for the extract itself"),
)
_TERM_NAMES = {b"\r\n": "CRLF", b"\n": "LF", b"": "no terminator"}


def _kind(head: bytes) -> tuple[str, str] | None:
    """What a file is by its first bytes, when it is not a text or record extract."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"xl/" in head or b"[Content_Types].xml" in head:
            return "an Excel workbook (.xlsx)", "export it as CSV"
        return "a zip archive", "extract it first (unzip)"
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            return what, todo
    return None


def _decodes(data: bytes, codec: str) -> int | None:
    """None when `data` decodes strictly, else the offset of the first bad byte."""
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _cut(data: bytes, complete: bool) -> bytes:
    """The sample up to its last line end (so that no character is cut), unless it is the whole file."""
    if complete:
        return data
    lf = data.rfind(b"\n")
    return data[: lf + 1] if lf > 0 else data


def _fixed_text(source: SourceFile, sample: bytes, stride: int) -> list[bytes]:
    """The text fields of the sample's whole records, each alone (numeric fields are not text)."""
    n = min(len(sample) // stride, SAMPLE_RECORDS) if stride else 0
    if not n:
        return []
    matrix = np.frombuffer(sample[: n * stride], dtype=np.uint8).reshape(n, stride)
    out = []
    for f in source.fields:
        if f.type == "text" and f.start + f.length <= stride:
            out.append(matrix[:, f.start : f.start + f.length].tobytes())
    return out


def _encoding(source: SourceFile, path: Path, parts: list[bytes]) -> None:
    """The declared encoding must decode the sample when another candidate does."""
    codec = CODECS[source.encoding]
    if is_host(codec) or not parts:  # host codes (EBCDIC, JEF, KEIS, JIPS) are never guessed
        return
    if all(_decodes(p, codec) is None for p in parts):
        return
    for other in CANDIDATES:
        if CODECS[other] == codec:
            continue
        if all(_decodes(p, CODECS[other]) is None for p in parts):
            raise InputError(
                f"not valid {source.encoding} (the encoding its source layout {source.id!r} declares), "
                f"but the start of the file is valid {other}: check the extract's encoding "
                f"(`midlayout inspect`) or the source layout",
                Location(file=str(path)),
            )


def _fixed(source: SourceFile, path: Path, size: int, head: bytes) -> SourceFile:
    """Framing of a fixed-width file; `terminator: auto` is resolved here (CRLF, LF or none)."""
    reclen = source.record_length
    source = resolve_auto(source, path)
    term = source.terminator
    stride = reclen + len(term)
    n = min(len(head) // stride, SAMPLE_RECORDS)
    if term and n:
        matrix = np.frombuffer(head[: n * stride], dtype=np.uint8).reshape(n, stride)
        tcol = np.frombuffer(term, dtype=np.uint8)
        ok = (matrix[:, reclen:] == tcol).all(axis=1)
        if not ok[0]:
            found = head[reclen : reclen + len(term)]
            lf = head.find(b"\n")
            hint = (
                f"; the first line end is at byte {lf}" if lf >= 0 else "; the file has no LF near its start"
            )
            raise InputError(
                f"record length mismatch: expected {reclen} bytes then {_TERM_NAMES[term]}, found "
                f"{found.hex(' ')} at the end of the first record{hint}: check record_length, terminator "
                f"and encoding (`midlayout inspect`)",
                Location(file=str(path), record=1, byte=reclen),
            )
        inner = matrix[:, : reclen - 1] == 0x0A  # a line end inside records, at the same place
        if n >= 2:
            share = inner.mean(axis=0)
            at = int(share.argmax())
            if share[at] >= 0.9:
                short = at - 1 if at and head[at - 1] == 0x0D else at
                raise InputError(
                    f"every record has a line end at byte {at} of its {reclen}: the records look like "
                    f"{short} bytes + line end, not {reclen}: check record_length",
                    Location(file=str(path), record=1, byte=at),
                )
    complete, rest = divmod(size, stride)
    if rest and not (rest == reclen and term):  # the first records are framed right: the last is short
        raise InputError(
            f"truncated last record: {rest} bytes where {stride} were expected",
            Location(file=str(path), record=complete + 1, byte=complete * stride),
        )
    _encoding(source, path, _fixed_text(source, head, stride))
    return source


def _detect_terminator(reclen: int, size: int, head: bytes) -> bytes | None:
    """CRLF, LF or none: the first that fits the size and the first records' boundaries."""
    for term in (b"\r\n", b"\n", b""):
        stride = reclen + len(term)
        rest = size % stride
        if rest and not (rest == reclen and term):
            continue
        n = min(len(head) // stride, SAMPLE_RECORDS)
        if term and n:
            matrix = np.frombuffer(head[: n * stride], dtype=np.uint8).reshape(n, stride)
            if not (matrix[:, reclen:] == np.frombuffer(term, dtype=np.uint8)).all():
                continue
        if (
            not term
            and n
            and (np.frombuffer(head[: n * stride], dtype=np.uint8) == 0x0A).mean() > 0.5 / stride
        ):
            continue  # line ends throughout: not a file without terminators
        return term
    return None


def terminator_name(source: SourceFile) -> str | None:
    """The terminator a fixed-width source is read with, as the manifest records it (None for CSV)."""
    if source.format != "fixed":
        return None
    if source.terminator_auto:
        return "auto"
    return {b"\r\n": "crlf", b"\n": "lf", b"": "none"}[source.terminator]


@functools.lru_cache(maxsize=64)
def _resolved(source: SourceFile, path: str, size: int, mtime: int) -> SourceFile:
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    term = _detect_terminator(source.record_length, size, head)
    if term is None:
        raise InputError(
            f"terminator: auto found no framing that fits: neither {source.record_length}-byte records with "
            f"CRLF or LF after each, nor {source.record_length}-byte records without line ends",
            Location(file=path),
        )
    return replace(source, terminator=term, terminator_auto=False)


def resolve_auto(source: SourceFile, path: Path) -> SourceFile:
    """`source` with `terminator: auto` resolved for `path` (cached by path, size and mtime)."""
    if not source.terminator_auto:
        return source
    st = path.stat()
    return _resolved(source, str(path), st.st_size, st.st_mtime_ns)


def preflight(source: SourceFile, path: Path, allow_empty: bool = False) -> SourceFile:
    """Check `path` against `source` before reading it; returns the source to read it with
    (`terminator: auto` resolved). InputError (exit 2, one line) when it cannot be right."""
    if path.is_dir():
        raise InputError("is a directory, not a file", Location(file=str(path)))
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    size = path.stat().st_size
    if size == 0:
        if allow_empty:
            return (
                replace(source, terminator=b"", terminator_auto=False) if source.terminator_auto else source
            )
        raise InputError(
            "the file is empty (0 bytes): pass --allow-empty if that is expected", Location(file=str(path))
        )
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    kind = _kind(head)
    if kind:
        raise InputError(
            f"this is {kind[0]}, not a {source.format} extract: {kind[1]}", Location(file=str(path))
        )
    if source.format == "fixed":
        return _fixed(source, path, size, head)
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    _encoding(source, path, [_cut(body, len(head) == size)])
    return source


# The decode-reject-rate stop (during the run): after MIN_RECORDS records of an input, more than the rate
# failed to decode while another candidate decodes at least CANDIDATE_RATE of a sample of them.
DEFAULT_MAX_REJECT_RATE = 0.5
MIN_RECORDS = 200
CANDIDATE_RATE = 0.99


def _texts(source: SourceFile, raws: list[bytes]) -> list[bytes]:
    """What of each raw record must decode: a CSV record whole, a fixed-width record's text fields."""
    if source.format != "fixed":
        return raws
    texts = [f for f in source.fields if f.type == "text"]
    return [b"\n".join(r[f.start : f.start + f.length] for f in texts) for r in raws]


class DecodeRate:
    """Counts undecodable records per input as batches come in; stops the run (InputError) when the
    declared encoding is plainly the wrong one: after MIN_RECORDS records, more than the rate failed to
    decode while another candidate decodes at least CANDIDATE_RATE of the failed ones."""

    def __init__(self, max_rate: float = DEFAULT_MAX_REJECT_RATE) -> None:
        self.max_rate = max_rate
        self.counts: dict[str, tuple[int, int]] = {}
        self.parts: dict[str, list[Path]] = {}
        self.checked: set[str] = set()

    def add(self, source: SourceFile, path: Path, read: int, undecodable: int, rejects: Path | None) -> None:
        key = str(path)
        total, bad = self.counts.get(key, (0, 0))
        total, bad = total + read, bad + undecodable
        self.counts[key] = (total, bad)
        if undecodable and rejects is not None:
            self.parts.setdefault(key, []).append(rejects)
        if key in self.checked or total < MIN_RECORDS or bad <= self.max_rate * total:
            return
        self.checked.add(key)
        codec = CODECS[source.encoding]
        if is_host(codec):
            return
        import polars as pl

        raws = (
            pl.concat(
                [pl.read_parquet(p, columns=["record", "rule", "raw"]) for p in self.parts.get(key, [])]
            )
            .filter(pl.col("rule") == "invalid_bytes")
            .unique("record", keep="first", maintain_order=True)
            .head(SAMPLE_RECORDS)
            .get_column("raw")
            .to_list()
        )
        sample = _texts(resolve_auto(source, path), raws)
        if not sample:
            return
        for other in CANDIDATES:
            if CODECS[other] == codec:
                continue
            ok = sum(_decodes(r, CODECS[other]) is None for r in sample) / len(sample)
            if ok >= CANDIDATE_RATE:
                raise InputError(
                    f"{bad:,} of the first {total:,} records are not valid {source.encoding}, while "
                    f"{ok:.0%} of those are valid {other}: the extract is probably {other}; check its "
                    f"encoding (`midlayout inspect`) or the source layout (--max-reject-rate changes "
                    f"this stop)",
                    Location(file=key),
                )
