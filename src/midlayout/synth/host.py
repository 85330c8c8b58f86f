"""Synthetic mainframe extracts in Fujitsu JEF, Hitachi KEIS or NEC JIPS: vendor A's people, host bytes.

Vendor A's 住民 and 世帯 files are generated (same seed, same people) and each field is re-encoded in the
chosen host code: text through text/mainframe (kanji in shifted double-byte runs), zoned numbers as
EBCDIC zoned where the single-byte set is EBCDIC-based. Field widths grow to the widest encoded value
(shift codes take bytes), so the run writes its own source layout, beside a copy of vendor A's 住基
mapping and code maps: ``midlayout convert -m OUT/definitions/juki-2.5.yaml OUT/JUMIN.DAT OUT/SETAI.DAT``.

A character the host code cannot hold is written as its full-width form (half-width kana in an EBCDIC
code without kana) or, failing that, as 〓 (U+3013, the 下駄 mark); the count is in the result. With
`traps`, four records of JUMIN.DAT carry the faults a host extract has (an undefined code, a field ending
in double-byte mode, a user-defined 外字, a shift-out without shift-in); `traps.json` lists each with the
rule a conversion must reject it with, the field's file offset (`byte_offset`, as rejects report it) and
the fault's byte within the field (`byte_in_field`, in the reject's message). Per-value Python: for tests and demos, not for GiBs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jaconv
import numpy as np
import yaml

from midlayout.layout.source import SourceField, SourceFile, load_source
from midlayout.synth import vendor_a
from midlayout.synth.output import AtomicFiles
from midlayout.text import mainframe as mf

FILES = {"jumin": "JUMIN.DAT", "setai": "SETAI.DAT"}
GETA = "\u3013"


@dataclass
class HostResult:
    """Where the extract and its definitions went, what was substituted, and the planted traps."""

    paths: dict[str, Path]
    source: Path
    mapping: Path
    substituted: int = 0
    traps: list[dict[str, object]] = field(default_factory=list)


def _fit(text: str, name: str, counter: list[int]) -> bytes:
    """Encode `text`, replacing what the host code cannot hold (full-width form, else 〓)."""
    try:
        return mf.encode_field(text, name)
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        for candidate in (ch, jaconv.h2z(ch, kana=True, ascii=True, digit=True), GETA):
            try:
                mf.encode_field(candidate, name)
            except UnicodeEncodeError:
                continue
            out.append(candidate)
            if candidate != ch:
                counter[0] += 1
            break
    return mf.encode_field("".join(out), name)


def _fit_dbcs(text: str, name: str, counter: list[int]) -> bytes:
    """Encode `text` as a shift-less double-byte field (COBOL PIC N): full-width forms, else 〓."""
    out = []
    for ch in text:
        for candidate in (jaconv.h2z(ch, kana=True, ascii=True, digit=True), GETA):
            try:
                code = mf.encode_field(candidate, name, shifted=False)
            except UnicodeEncodeError:
                continue
            if len(code) != 2:
                continue
            out.append(code)
            if candidate != ch:
                counter[0] += 1
            break
    return b"".join(out)


def _zoned(raw: bytes, name: str) -> bytes:
    """Vendor A's ASCII zoned digits (overpunch letters included) in the host's single-byte set."""
    if not mf.CODECS[name].ebcdic:
        return raw
    return mf.encode_field(raw.decode("ascii"), name)


def _host_file(
    src: SourceFile, data: bytes, name: str, counter: list[int], dbcs: frozenset[str] = frozenset()
) -> tuple[list[bytes], list[SourceField], dict[str, int]]:
    """Re-encode every record of one vendor A file: (records, host fields, field start by id).

    Fields named in `dbcs` become shift-less double-byte fields (`type: dbcs`, COBOL PIC N)."""
    stride = src.record_length + len(src.terminator)
    recs = np.frombuffer(data, dtype=np.uint8).reshape(-1, stride)[:, : src.record_length]
    space = mf.encode_field(" ", name)
    wide_space = mf.encode_field("\u3000", name, shifted=False)
    columns: list[list[bytes]] = []
    for f in src.fields:
        raws = [bytes(r[f.start : f.start + f.length]) for r in recs]
        if f.type == "zoned":
            columns.append([_zoned(v, name) for v in raws])
        elif f.id in dbcs:
            columns.append([_fit_dbcs(v.decode("cp932").rstrip(" "), name, counter) for v in raws])
        else:
            columns.append([_fit(v.decode("cp932"), name, counter) for v in raws])
    fields, starts, pos = [], {}, 0
    for f, col in zip(src.fields, columns, strict=True):
        width = max([f.length, *map(len, col)])
        kind = "zoned_ebcdic" if f.type == "zoned" and mf.CODECS[name].ebcdic else f.type
        if f.id in dbcs:
            kind, width = "dbcs", width + width % 2
            col[:] = [v + wide_space * ((width - len(v)) // 2) for v in col]
        fields.append(SourceField(f.id, kind, pos, width))
        starts[f.id] = pos
        col[:] = [v + space * (width - len(v)) if f.type not in ("zoned", "dbcs") else v for v in col]
        pos += width
    records = [b"".join(col[i] for col in columns) for i in range(len(recs))]
    return records, fields, starts


def _plant(
    records: list[bytes], fields: list[SourceField], name: str, file_name: str, record_length: int
) -> list[dict[str, object]]:
    """Overwrite four records' fields with host faults; (file, record, field, byte_offset, rule) of each."""
    c = mf.CODECS[name]
    width = {f.id: f for f in fields}
    kanji = mf.encode_field("亜", name, shifted=False)
    notes = []

    def put(rec: int, fid: str, value: bytes, at: int, rule: str) -> None:
        f = width[fid]
        value = value + mf.encode_field(" ", name) * (f.length - len(value))
        assert len(value) == f.length, (fid, len(value), f.length)
        r = records[rec - 1]
        records[rec - 1] = r[: f.start] + value + r[f.start + f.length :]
        notes.append(
            {"file": file_name, "record": rec, "field": fid, "rule": rule,
             "byte_offset": (rec - 1) * record_length + f.start, "byte_in_field": at}
        )  # fmt: skip

    undefined = _undefined_code(name)
    put(1, "NAME_KANJI", c.shift_in + kanji + undefined + c.shift_out, len(c.shift_in) + 2, "invalid_bytes")
    f = width["NAME_KANJI"]
    run = c.shift_in + kanji * f.length
    put(2, "NAME_KANJI", run[: f.length], f.length - 1, "char_cut")
    lead, _, trail, _, _ = c.gaiji[0]
    gaiji = bytes((lead, trail))
    to_vendor = mf._lookups(name).from_dbcs
    if to_vendor is not None:
        gaiji = bytes(int(to_vendor[b]) for b in gaiji)
    put(3, "KATAGAKI", c.shift_in + kanji + gaiji + c.shift_out, len(c.shift_in) + 2, "gaiji_unmapped")
    put(4, "ADDR2", c.shift_out + mf.encode_field("1", name), 0, "invalid_bytes")
    return notes


def _undefined_code(name: str) -> bytes:
    """The first double-byte code (lead ≥ 0x41) this codec leaves undefined, in vendor bytes."""
    look = mf._lookups(name)
    codes = np.flatnonzero(look.dbcs_ids == -1)
    code = int(codes[codes >= 0x4141][0])
    hi, lo = code >> 8, code & 0xFF
    if look.from_dbcs is not None:
        hi, lo = int(look.from_dbcs[hi]), int(look.from_dbcs[lo])
    return bytes((hi, lo))


def write(
    out_dir: Path, name: str, households: int, seed: int, traps: bool = False, dbcs: tuple[str, ...] = ()
) -> HostResult:
    """Write JUMIN.DAT and SETAI.DAT in host code `name`, plus definitions/ (source layout, mapping, codes).

    `dbcs`: JUMIN.DAT fields written shift-less (`type: dbcs`, COBOL PIC N) instead of shifted text."""
    if name not in mf.CODECS:
        raise ValueError(f"unknown host encoding {name!r}; expected one of {', '.join(mf.CODECS)}")
    if traps and "NAME_KANJI" in dbcs:
        raise ValueError("the host traps are planted in a shifted NAME_KANJI; leave it out of dbcs")
    out_dir = Path(out_dir)
    counter = [0]
    layout = load_source(vendor_a.SOURCE)
    files: dict[str, tuple[list[bytes], list[SourceField], int]] = {}
    with tempfile.TemporaryDirectory(dir=out_dir.parent if out_dir.parent.is_dir() else None) as tmp:
        made = vendor_a.write(Path(tmp), households, seed, False, vendor_a.SOURCE, workers=1).paths
        for fid in FILES:
            src = layout.file(fid)
            wide = frozenset(dbcs) if fid == "jumin" else frozenset()
            records, fields, _ = _host_file(src, made[fid].read_bytes(), name, counter, wide)
            files[fid] = (records, fields, sum(f.length for f in fields))
    notes: list[dict[str, object]] = []
    if traps:
        records, fields, length = files["jumin"]
        if len(records) < 4:
            raise ValueError("host traps need at least 4 people (2 households)")
        notes = _plant(records, fields, name, FILES["jumin"], length)
    with AtomicFiles(out_dir, FILES) as out:
        for fid, (records, _, _) in files.items():
            out.write(fid, b"".join(records))
    definitions = out_dir / "definitions"
    source = _write_definitions(definitions, layout, files, name)
    if traps:
        (out_dir / "traps.json").write_text(json.dumps(notes, indent=1) + "\n", encoding="utf-8")
    return HostResult(out.paths, source, definitions / "juki-2.5.yaml", counter[0], notes)


def _write_definitions(
    folder: Path, layout: object, files: dict[str, tuple[list[bytes], list[SourceField], int]], name: str
) -> Path:
    """Source layout for the host files, beside vendor A's 住基 mapping and code maps (copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    vendor_dir = vendor_a.SOURCE.parent
    shutil.copyfile(vendor_dir / "juki-2.5.yaml", folder / "juki-2.5.yaml")
    shutil.copytree(vendor_dir / "codes", folder / "codes", dirs_exist_ok=True)
    doc = {
        "vendor": "vendor_a_host",
        "name": f"A社 移行抽出ファイル, host copy in {name} (midlayout synth --vendor host)",
        "files": [
            {
                "id": fid,
                "name": FILES[fid],
                "format": "fixed",
                "encoding": name,
                "match": FILES[fid].replace(".DAT", "*.DAT"),
                "record_length": length,
                "terminator": "none",
                "offset_base": 1,
                "fields": [
                    {"id": f.id, "start": f.start + 1, "length": f.length}
                    | ({"type": f.type} if f.type != "text" else {})
                    for f in fields
                ],
            }
            for fid, (_, fields, length) in files.items()
        ],
    }
    path = folder / "source.yaml"
    path.write_text(
        "# Generated by midlayout synth --vendor host: widths are the widest encoded value.\n"
        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path
