"""Fujitsu JEF, Hitachi KEIS and NEC JIPS codecs (text/mainframe): every table code, known bytes, faults, 外字."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from midlayout.layout.gaiji import GaijiOptions, load_gaiji_table
from midlayout.layout.source import SourceField, SourceFile
from midlayout.readers import read_batches
from midlayout.readers.decode import decode_column
from midlayout.text import mainframe as mf
from midlayout.text.mainframe.tables import read_rows

ROOT = Path(__file__).resolve().parent.parent
JEF4J = ROOT.parent / "shared" / "third_party" / "jef4j"
TABLES = ROOT / "src" / "midlayout" / "text" / "mainframe" / "tables"


def _vendor_bytes(name: str, code: int) -> bytes:
    look = mf._lookups(name)
    hi, lo = code >> 8, code & 0xFF
    if look.from_dbcs is not None:  # JIPS(E): each JIPS byte written in EBCDIK
        hi, lo = int(look.from_dbcs[hi]), int(look.from_dbcs[lo])
    return bytes((hi, lo))


@pytest.mark.parametrize("name", list(mf.CODECS))
def test_every_double_byte_code_decodes_and_round_trips_as_its_kind(name: str) -> None:
    rows = read_rows(mf.CODECS[name].dbcs_table)
    decodable = [r for r in rows if r.kind in ("rt", "d")]
    raw = b"".join(_vendor_bytes(name, r.code) for r in decodable)
    arr, fails = mf.decode_matrix(np.frombuffer(raw, dtype=np.uint8).reshape(-1, 2), name, shifted=False)
    assert fails == [] and arr.to_pylist() == [r.text for r in decodable]
    for r in decodable:  # rt: encode gives the code back; d (decode_only / many-to-one): another code or none
        try:
            back = mf.encode_field(r.text, name, shifted=False)
        except UnicodeEncodeError:
            assert r.kind == "d", (name, hex(r.code))  # decode_only upstream and no other code holds the text
            continue
        assert (back == _vendor_bytes(name, r.code)) == (r.kind == "rt"), (name, hex(r.code), r.kind)
        if r.kind == "d":
            assert mf.decode_field(back, name, shifted=False) == r.text
    for r in rows:
        if r.kind == "e":  # encode only: the text encodes to the code, the code decodes to something else
            assert mf.encode_field(r.text, name, shifted=False) == _vendor_bytes(name, r.code)
        elif r.kind in ("x", "a"):  # no Unicode equivalent / ambiguous upstream: a reject, never a guess
            with pytest.raises(UnicodeDecodeError):
                mf.decode_field(_vendor_bytes(name, r.code), name, shifted=False)


@pytest.mark.parametrize("name", list(mf.CODECS))
def test_every_single_byte_code_round_trips_in_a_shifted_field(name: str) -> None:
    c = mf.CODECS[name]
    rows = [r for r in read_rows(c.sbcs_table) if r.kind in ("rt", "d")]
    shifts = set(c.shift_in[:1] + c.shift_out[:1] + c.alt_shift_in)
    rows = [r for r in rows if r.code not in shifts]
    raw = bytes(r.code for r in rows)
    assert mf.decode_field(raw, name) == "".join(r.text for r in rows)
    for r in rows:
        assert (mf.encode_field(r.text, name) == bytes([r.code])) == (r.kind == "rt")


def test_decode_only_and_many_to_one_codes_are_listed() -> None:
    # The generated tables say which codes do not round-trip; these counts are what the tests above cover.
    kinds = {
        n: {k: 0 for k in ("rt", "d", "e", "x", "a")} for n in ("fujitsu_jef", "hitachi_keis78", "nec_jips")
    }
    for table, counts in kinds.items():
        for r in read_rows(table):
            counts[r.kind] += 1
    assert kinds["fujitsu_jef"]["x"] == 457 and kinds["fujitsu_jef"]["d"] == 26
    assert kinds["hitachi_keis78"]["d"] == 16 and kinds["nec_jips"]["a"] == 20
    assert mf.decode_field(b"\x73\xfa", "keis78-ebcdic", shifted=False) == "令"  # decode_only (合字 令和)


# Known characters, by their published positions: JIS X 0208 row 16 cell 1 is 亜 (0x3021): JEF and KEIS
# write it +0x8080 (0xB0A1), JIPS(J) as is (0x3021); 0x4040 is the double-byte space everywhere but JIPS.
KNOWN = [
    ("jef-ebcdic", b"\xc1\x28\xb0\xa1\x40\x40\x29\x81", "A亜\u3000a"),
    ("jef-ebcdik", b"\x28\xb0\xa1\x29\x81", "亜ｱ"),
    ("jef-ascii", b"\x38\xb0\xa1\x29\xf1", "亜1"),  # 0x38 shifts in like 0x28
    ("keis83-ebcdic", b"\xc1\x0a\x42\xb0\xa1\x0a\x41\x81", "A亜a"),
    ("keis78-ebcdik", b"\x0a\x42\xb0\xa1\x0a\x41\x81", "亜ｱ"),
    ("jipsj-jis8", b"A\x1a\x70\x30\x21\x1a\x71a", "A亜a"),
    ("jipsj-ebcdik", b"\x1a\x70\x30\x21\x1a\x71\x81", "亜ｱ"),
    ("jipse-ebcdik", b"\x3f\x75\xf0\x4f\x3f\x76\x81", "亜ｱ"),  # JIS 0x30 0x21 in EBCDIK: 0xF0 0x4F
]


@pytest.mark.parametrize(("name", "raw", "text"), KNOWN)
def test_known_characters_decode_as_the_tables_say(name: str, raw: bytes, text: str) -> None:
    assert raw.decode(name) == text
    assert mf.encode_field(text, name) == raw.replace(b"\x38", b"\x28")


def test_variation_sequences_are_kept_not_folded() -> None:
    # JEF 0x41A5 is 丈 with IVS U+E0103 in jef4j (oneway), 0xBEE6 the JIS 丈: decoding both to bare 丈 would
    # fold the variant onto it. The JIS kanji, and one no other code shares (0xB0A1 亜), stay bare.
    assert mf.decode_field(b"\x41\xa5", "jef-ebcdic", shifted=False) == "丈\U000e0103"
    assert mf.decode_field(b"\xbe\xe6", "jef-ebcdic", shifted=False) == "丈"
    assert mf.decode_field(b"\xc5\xd4", "jef-ebcdic", shifted=False) == "都"  # 0x68A8 is 都 U+FA26 (cjk_ci)
    assert mf.encode_field("丈\U000e0103", "jef-ebcdic", shifted=False) == b"\x41\xa5"
    assert mf.decode_field(b"\xb0\xa1", "jef-ebcdic", shifted=False) == "亜"


FAULTS = [
    ("jef-ebcdic", b"\xc1\x28\xb0\xa1", 3, "double-byte mode"),  # no shift-out: field ends inside kanji
    ("jef-ebcdic", b"\x28\xb0\xa1\xb0", 3, "double-byte mode"),
    ("jef-ebcdic", b"\x28\xb0\xa1\xb0\x29", 3, "half a double-byte"),
    ("jef-ebcdic", b"\x29\xc1", 0, "unbalanced shift"),
    ("jef-ebcdic", b"\x28\x28\xb0\xa1\x29", 1, "unbalanced shift"),
    ("jef-ebcdic", b"\x28\x71\xf7\x29", 1, "no Unicode equivalent"),
    ("jef-ebcdic", b"\x28\x41\x40\x29", 1, "0x4140 are not valid"),
    ("keis83-ebcdic", b"\x0a\x43\xc1", 0, "unbalanced shift"),  # 0x0A starts a shift only with 0x41/0x42
    ("keis83-ebcdic", b"\xc1\x0a", 1, "unbalanced shift"),
    ("keis83-ebcdic", b"\x0a\x42\xb0\xa1\x0a\x42\x0a\x41", 4, "unbalanced shift"),
    ("jipsj-jis8", b"\x1a\x70\x30\x21", 3, "double-byte mode"),
]


@pytest.mark.parametrize(("name", "raw", "offset", "reason"), FAULTS)
def test_faults_are_rejected_at_their_byte(name: str, raw: bytes, offset: int, reason: str) -> None:
    with pytest.raises(UnicodeDecodeError) as info:
        mf.decode_field(raw, name)
    assert info.value.start == offset and reason in info.value.reason


def test_pure_double_byte_field_cut_and_shift_bytes() -> None:
    values = np.frombuffer(b"\xb0\xa1\x40\x40" + b"\xb0\xa1\xb0\x29" + b"\xb0\xa1\xb0\xa1", np.uint8)
    arr, fails = decode_column(values.reshape(3, 4), "jef-ebcdic", shifted=False)
    assert arr.to_pylist() == ["亜\u3000", None, "亜亜"]
    assert [(f.row, f.byte, f.rule) for f in fails] == [(1, 2, "invalid_bytes")]
    odd = np.frombuffer(b"\xb0\xa1\xb0", np.uint8).reshape(1, 3)
    _, fails = decode_column(odd, "jef-ebcdic", shifted=False)
    assert [(f.byte, f.rule) for f in fails] == [(2, "char_cut")]


def test_a_column_decodes_in_one_call_with_exact_failures() -> None:
    good = mf.encode_field("山田 太郎", "jef-ebcdik").ljust(16, b"\x40")
    bad = b"\x28\xb0\xa1\xb0\xa1\xb0\xa1\xb0\xa1\xb0\xa1\xb0\xa1\xb0\xa1"  # 15 bytes, no shift-out
    values = np.frombuffer(good + bad + b"\x40", np.uint8).reshape(2, 16)
    arr, fails = decode_column(values, "jef-ebcdik")
    assert arr.to_pylist() == ["山田 太郎" + " " * 3, None]
    assert [(f.row, f.byte, f.rule) for f in fails] == [(1, 15, "char_cut")]


def test_user_defined_area_goes_through_the_gaiji_table_with_the_vendor_code(tmp_path: Path) -> None:
    # JEF 0x80A1 and 0x80A2 are the first user-defined (外字) codes: private use U+E000, U+E001.
    name = mf.encode_field("髙", "jef-ebcdic")
    record = name + b"\x28\x80\xa1\x80\xa2\x29" + b"\x40" * (16 - len(name) - 6)
    path = tmp_path / "HOST.DAT"
    path.write_bytes(record)
    table = tmp_path / "gaiji.csv"
    table.write_text("code,replacement,mj,note\n80A1,U+9AD9,,\n", encoding="utf-8")
    source = SourceFile(
        "h", "h", "fixed", "jef-ebcdic", "*", (SourceField("NAME", "text", 0, 16),), record_length=16
    )
    options = GaijiOptions(load_gaiji_table(table), "reject")
    batch = next(iter(read_batches(source, path, gaiji=options)))
    g = batch.gaiji.sort("byte_offset")
    assert g.select("code", "char", "status", "byte_offset").rows() == [
        ("80A1", "U+E000", "mapped", len(name) + 1),
        ("80A2", "U+E001", "unmapped", len(name) + 3),
    ]
    r = batch.rejects.row(0, named=True)  # byte_offset: the field's; the byte within it is in the message
    assert (r["rule"], r["byte_offset"]) == ("gaiji_unmapped", 0) and "0x80A2" in r["message"]
    assert f"(byte {len(name) + 3} of the field)" in r["message"]


def test_a_record_with_a_fault_is_rejected_with_file_record_byte_and_field(tmp_path: Path) -> None:
    fields = (SourceField("NAME", "text", 0, 8), SourceField("AGE", "zoned_ebcdic", 8, 3))
    good = mf.encode_field("亜亜", "keis83-ebcdic").ljust(8, b"\x40") + b"\xf0\xf4\xf2"
    bad = b"\x0a\x42\xb0\xa1\xb0\xa1\xb0\xa1" + b"\xf0\xf0\xf1"  # no shift-out before the field end
    path = tmp_path / "K.DAT"
    path.write_bytes(good + bad)
    source = SourceFile("k", "k", "fixed", "keis83-ebcdic", "*", fields, record_length=11)
    batch = next(iter(read_batches(source, path)))
    assert batch.rows.select("NAME", "AGE").rows() == [("亜亜", 42)]
    r = batch.rejects.row(0, named=True)
    assert (r["file"], r["record"], r["byte_offset"], r["field"], r["rule"]) == (
        str(path),
        2,
        11,  # the field's offset in the file; the byte within it is in the message
        "NAME",
        "char_cut",
    )
    assert "(byte 7 of the field)" in r["message"]


def _generator():  # the repository's generator, loaded as a module (scripts/ is not a package)
    spec = importlib.util.spec_from_file_location(
        "gen_mainframe_tables", ROOT / "scripts" / "gen_mainframe_tables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not JEF4J.is_dir(), reason=f"the jef4j source tables are not checked out at {JEF4J}")
def test_committed_tables_are_what_the_generator_makes_from_the_json(tmp_path: Path) -> None:
    gen = _generator()
    assert gen.main(["gen", str(JEF4J), str(tmp_path)]) == 0
    for path in sorted(tmp_path.iterdir()):
        assert (TABLES / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} differs: rerun the generator"
        )
    assert sorted(p.name for p in TABLES.iterdir() if p.suffix != ".py") == sorted(
        p.name for p in tmp_path.iterdir()
    )


@pytest.mark.skipif(not JEF4J.is_dir(), reason=f"the jef4j source tables are not checked out at {JEF4J}")
def test_every_upstream_decode_is_honoured_or_listed() -> None:
    # Each upstream entry (not encode_only) either decodes to its Unicode (plus the kept IVS/mark) or is a
    # listed exception: x (no Unicode), a (ambiguous), or a code with two upstream entries.
    gen = _generator()
    for name in gen.TABLES:
        entries = json.loads((JEF4J / f"{name}_mapping.json").read_text(encoding="utf-8"))
        entries = gen.repair_typos([dict(e) for e in entries])
        rows = {r.code: r for r in read_rows(name) if r.kind != "e"}
        listed = {}
        for e in entries:
            listed.setdefault(e["code"].upper(), []).append(e)
        for code, group in listed.items():
            decodes = [e for e in group if "encode_only" not in e["options"]]
            if not decodes:
                continue
            row = rows[int(code, 16)]
            if len(decodes) == 1 and row.kind in ("rt", "d"):
                assert row.text in (gen.base_text(decodes[0]), gen.decoded_text(decodes[0])), (name, code)
            else:
                assert row.kind in ("x", "a") or len(decodes) > 1, (name, code)


def test_inspect_ties_and_confirms(tmp_path: Path) -> None:
    from midlayout.readers.inspect import inspect_file

    keis = tmp_path / "KEIS.DAT"
    keis.write_bytes((mf.encode_field("亜亜", "keis83-ebcdik") + b"\xf0\xf1" * 3) * 50)
    info = inspect_file(keis)
    assert info.confirmed is None and "keis83-ebcdik" in info.encoding["tied"]
    assert info.encoding["evidence"]["shifts"]["KEIS"]["shift_in"] == 50
    assert (
        info.fixed is not None and info.fixed["record_length"] == 14
    )  # 0x0A is a shift byte, not a line end
    jipse = tmp_path / "JIPSE.DAT"
    jipse.write_bytes((mf.encode_field("亜", "jipse-ebcdik") + b"\xf1") * 50)
    info = inspect_file(jipse)
    assert info.confirmed == "jipse-ebcdik"
    pure = tmp_path / "PIC_N.DAT"
    pure.write_bytes(
        mf.encode_field("亜伊宇\u3000", "jef-ebcdik", shifted=False) * 100
    )  # PIC N, 0x4040 padding
    info = inspect_file(pure)
    assert "jef-ebcdik" in info.encoding["candidates"] and info.encoding["tried"][0]["encoding"].endswith(
        "(double-byte only)"
    )


def test_frame_of_a_mainframe_field_is_polars_ready(tmp_path: Path) -> None:
    path = tmp_path / "J.DAT"
    path.write_bytes(mf.encode_field("ﾔﾏﾀﾞ", "jipsj-ebcdik").ljust(6, b"\x40") * 3)
    source = SourceFile(
        "j", "j", "fixed", "jipsj-ebcdik", "*", (SourceField("KANA", "text", 0, 6),), record_length=6
    )
    rows = pl.concat([b.rows for b in read_batches(source, path)])
    assert rows.get_column("KANA").to_list() == ["ﾔﾏﾀﾞ  "] * 3


@pytest.mark.slow
@pytest.mark.parametrize("name", list(mf.CODECS))
def test_synthetic_host_extract_converts_end_to_end_with_traps_at_their_byte(
    tmp_path: Path, name: str
) -> None:
    from midlayout.layout.mapping import load_mapping
    from midlayout.pipeline.convert import convert
    from midlayout.pipeline.options import ConvertOptions
    from midlayout.synth import host

    made = host.write(tmp_path / "x", name, households=6, seed=3, traps=True)
    inputs = [str(p) for p in made.paths.values()]
    result = convert([load_mapping(made.mapping)], inputs, tmp_path / "out", ConvertOptions(("parquet",)))
    result.manifest.check_conservation()
    assert sum(i.records_written for i in result.manifest.inputs) > 0
    rejects = pl.read_parquet(tmp_path / "out" / "rejects.parquet")
    decode = rejects.filter(pl.col("stage") == "decode").sort("record")
    want = [
        (Path(str(t["file"])).name, t["record"], t["field"], t["rule"], t["byte_offset"], t["byte_in_field"])
        for t in made.traps
    ]
    rows = decode.select("file", "record", "field", "rule", "byte_offset", "message").rows()
    got = [
        (Path(f).name, r, fld, rule, b, int(m.rsplit("(byte ", 1)[1].split()[0]))
        for f, r, fld, rule, b, m in rows
    ]
    assert got == want  # the field's file offset, and the fault's byte within the field
    report = pl.read_csv(tmp_path / "out" / "gaiji-report.csv", infer_schema=False)
    assert report.select("code", "char").rows() == [
        (mf.vendor_code("\ue000", name), "U+E000")
    ]  # vendor bytes


@pytest.mark.parametrize(
    ("enc", "field_type", "error"),
    [
        ("jef-ebcdik", "zoned_ebcdic", None),
        ("keis83-ebcdic", "zoned", "use zoned_ebcdic"),
        ("jipsj-jis8", "zoned", None),  # JIS8 is ASCII-based: ASCII zoned numbers
        ("jipse-ebcdik", "zoned", "use zoned_ebcdic"),
    ],
)
def test_source_layouts_accept_the_host_encodings(
    tmp_path: Path, enc: str, field_type: str, error: str | None
) -> None:
    from midlayout.errors import DefinitionError
    from midlayout.layout.source import load_source

    path = tmp_path / "source.yaml"
    path.write_text(
        "vendor: v\nname: v\nfiles:\n  - {id: f, name: f, format: fixed, encoding: "
        + enc
        + ', match: "*.DAT",\n'
        "     record_length: 10, terminator: none, offset_base: 1,\n"
        "     fields: [{id: A, start: 1, length: 6}, {id: B, start: 7, length: 4, type: "
        + field_type
        + "}]}\n",
        encoding="utf-8",
    )
    if error is None:
        assert load_source(path).file("f").encoding == enc
    else:
        with pytest.raises(DefinitionError, match=error):
            load_source(path)


def test_synth_host_rejects_an_unknown_encoding_as_usage(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from midlayout.cli import app

    out = CliRunner().invoke(
        app, ["synth", "--vendor", "host", "-n", "2", "--out", str(tmp_path), "--encoding", "jef"]
    )
    assert out.exit_code == 2 and "jef-ebcdic" in out.output


def _scalar_decode(raw: bytes, name: str, shifted: bool) -> tuple[str | None, int | None]:
    """A byte-at-a-time twin of decode_matrix, for the property test: (text, None) or (None, fault byte)."""
    c, look = mf.CODECS[name], mf._lookups(name)
    pool = c.sbcs.pool + c.dbcs.pool
    out, i, double = [], 0, not shifted
    while i < len(raw):
        if shifted and raw[i : i + len(c.shift_in)] in {c.shift_in, c.alt_shift_in} - {b""}:
            if double:
                return None, i
            i, double = i + len(c.shift_in), True
        elif shifted and raw[i : i + len(c.shift_out)] == c.shift_out:
            if not double:
                return None, i
            i, double = i + len(c.shift_out), False
        elif shifted and len(c.shift_in) == 2 and raw[i] == c.shift_in[0]:
            return None, i  # a shift lead byte not followed by a shift code
        elif double:
            if i + 1 >= len(raw) or (
                shifted and raw[i + 1 : i + 1 + len(c.shift_out)] in (c.shift_out, c.shift_in)
            ):
                return None, i
            hi, lo = raw[i], raw[i + 1]
            if look.to_dbcs is not None:
                hi, lo = int(look.to_dbcs[hi]), int(look.to_dbcs[lo])
            ident = int(look.dbcs_ids[hi << 8 | lo])
            if ident < 0:
                return None, i
            out.append(pool[ident])
            i += 2
        else:
            ident = int(look.sbcs_ids[raw[i]])
            if ident < 0:
                return None, i
            out.append(pool[ident])
            i += 1
    if double and shifted:
        return None, len(raw) - 1
    return "".join(out), None


@pytest.mark.parametrize("name", ["jef-ebcdik", "keis83-ebcdic", "jipse-ebcdik", "jipsj-jis8"])
@pytest.mark.parametrize("shifted", [True, False])
def test_vectorised_decode_equals_a_byte_at_a_time_decoder(name: str, shifted: bool) -> None:
    rng = np.random.default_rng(7)
    c = mf.CODECS[name]
    good = [mf.encode_field(t, name) for t in ("山田 太郎", "ｱｲｳ", "亜\u3000伊", "1-2-3")]
    pieces = [*good, c.shift_in, c.shift_out, b"\xb0\xa1", b"\x30\x21", b"\x40\x40", b"\x41", b"\xff"]
    rows = []
    for _ in range(400):  # random concatenations of valid text, stray shifts and odd bytes, cut to 12 bytes
        parts = [pieces[k] for k in rng.integers(0, len(pieces), size=4)]
        rows.append(b"".join(parts).ljust(12, b"\x40")[:12])
    arr, fails = mf.decode_matrix(np.frombuffer(b"".join(rows), np.uint8).reshape(-1, 12), name, shifted)
    first = {row: byte for row, byte, _, _ in fails}
    for k, raw in enumerate(rows):
        text, fault = _scalar_decode(raw, name, shifted)
        assert (arr[k].as_py(), first.get(k)) == (text, fault), (raw.hex(), k)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["jef-ebcdic", "keis83-ebcdik", "jipsj-jis8", "jipse-ebcdik"])
def test_a_dbcs_field_in_a_host_code_converts_end_to_end_with_a_trap_at_its_byte(
    tmp_path: Path, name: str
) -> None:
    from midlayout.layout.mapping import load_mapping
    from midlayout.layout.source import load_source
    from midlayout.pipeline.convert import convert
    from midlayout.pipeline.options import ConvertOptions
    from midlayout.synth import host

    made = host.write(tmp_path / "x", name, households=4, seed=5, dbcs=("NAME_KANJI",))
    src = load_source(made.source).file("jumin")
    f = next(f for f in src.fields if f.id == "NAME_KANJI")
    assert f.type == "dbcs"
    path = made.paths["jumin"]
    data = bytearray(path.read_bytes())
    c = mf.CODECS[name]
    kanji = mf.encode_field("亜", name, shifted=False)
    space = mf.encode_field("\u3000", name, shifted=False)
    assert not data[f.start : f.start + f.length].startswith(c.shift_in)  # no shift code in a PIC N field
    lead, _, trail, _, _ = c.gaiji[0]
    gaiji = bytes((lead, trail))
    if mf._lookups(name).from_dbcs is not None:
        gaiji = bytes(int(mf._lookups(name).from_dbcs[b]) for b in gaiji)
    traps = {  # record → (field bytes, byte within the field, rule)
        1: (kanji + host._undefined_code(name), 2, "invalid_bytes"),
        3: (kanji * 2 + gaiji, 4, "gaiji_unmapped"),
    }
    for rec, (value, _, _) in traps.items():
        value = value + space * ((f.length - len(value)) // 2)
        at = (rec - 1) * src.record_length + f.start
        data[at : at + f.length] = value
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    result = convert([load_mapping(made.mapping)], [str(p) for p in made.paths.values()], out,
                     ConvertOptions(("parquet",)))  # fmt: skip
    result.manifest.check_conservation()
    assert sum(i.records_written for i in result.manifest.inputs) > 0
    rejects = pl.read_parquet(out / "rejects.parquet").filter(pl.col("stage") == "decode").sort("record")
    rows = rejects.select("file", "record", "field", "rule", "byte_offset", "message").rows()
    got = [
        (Path(p).name, r, fld, rule, b, int(m.rsplit("(byte ", 1)[1].split()[0]))
        for p, r, fld, rule, b, m in rows
    ]
    assert got == [
        ("JUMIN.DAT", rec, "NAME_KANJI", rule, (rec - 1) * src.record_length + f.start, at)
        for rec, (_, at, rule) in traps.items()
    ]
    report = pl.read_csv(out / "gaiji-report.csv", infer_schema=False)
    assert report.select("code", "char").rows() == [(mf.vendor_code("\ue000", name), "U+E000")]
