"""Rules proven by the source are not checked (mapping/proof.py), and the proof is never wrong.

- Every op in the op table declares its effect; an op without one fails when the table is built.
- The decoders' repertoires, exhaustively: every character Python's cp932 (and Shift_JIS, EUC-JP) decodes
  round-trips through its own codec; EUC-JP's do not all fit CP932, and the proof says so.
- Through every op of the table (and the `const`, `concat` and `lookup` item kinds), values that break
  each rule are injected into a real conversion: no rule the proof dropped ever fails with proofs off,
  the injected breaks come back as rejects with proofs on, and outputs and rejects are identical with
  proofs on and off (MIDLAYOUT_PROVE=0), for a CP932 and a UTF-8 target.
- The samples and the trap corpus give identical outputs with proofs on and off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.layout.mapping import load_mapping
from midlayout.layout.ops import EFFECTS, INTRODUCES, MAPS, OP_SPECS, OpSpec
from midlayout.mapping import proof
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.text import ebcdic
from midlayout.validate.repertoire import fits
from tests import test_text_fidelity as fidelity
from tests.conftest import MAPPINGS, SAMPLES, fixed_record
from tests.test_fast_path import _assert_same, _outputs

W = 10  # the width of the source fields F and G, in bytes
OUTSIDE = "\U00020bb7"  # 𠮷: outside CP932 and JIS X 0208

# One target file per case, its item `x` built by the case's ops from F (or as the case says), so that a
# record a map check rejects in one case does not hide the others. Every op of the table has a case.
CASES: dict[str, str] = {
    "trim": "{from: F, ops: [trim]}",
    "zenkaku_kana": "{from: F, ops: [trim, zenkaku_kana]}",
    "hankaku_ascii": "{from: F, ops: [hankaku_ascii]}",
    "hankaku_digits": "{from: F, ops: [hankaku_digits]}",
    "normalize_spaces": "{from: F, ops: [normalize_spaces]}",
    "null_if": '{from: F, ops: [trim, {null_if: ["L"]}]}',
    "code": "{from: F, ops: [trim, {code: long}]}",
    "wareki": "{from: F, ops: [trim, {wareki: {format: era_yymmdd, eras: digits}}]}",
    "wareki_unknown": "{from: F, ops: [trim, {wareki_unknown: {format: era_yymmdd, eras: digits}}]}",
    "wareki_partial": "{from: F, ops: [trim, {wareki_partial: {format: era_yymmdd, eras: digits}}]}",
    "to_wareki": "{from: F, ops: [trim, {to_wareki: {style: kanji}}]}",
    "default": f'{{from: F, ops: [trim, {{default: "{OUTSIDE}ＸＸＸＸＸ"}}]}}',
    "replace": f'{{from: F, ops: [trim, {{replace: {{"A": "{OUTSIDE}{OUTSIDE}"}}}}]}}',
    "split": '{from: F, ops: [trim, {split: {sep: "-", index: 1}}]}',
    "const": f'{{const: "ＸＸＸＸＸＸＸＸＸＸＸ{OUTSIDE}"}}',
    "concat": f'{{concat: [F, G], sep: "{OUTSIDE}", ops: [trim]}}',
    "concat_known": '{concat: [F, G], sep: "・", ops: [trim]}',
    "lookup": "{lookup: {source: s_trim, match: F, key: F, value: G}, ops: [trim]}",
}
# Source values, each put in F and G of one record (cp932 bytes, at most W): the longest and widest
# text the decoder gives, and the values each op turns into a break.
VALUES: list[bytes] = [
    b"ABCDEFGHIJ",
    b"AAAAAAAAAA",
    b"A-BCD-EFGH",
    "ｶﾞｶﾞｶﾞｶﾞｶﾞ".encode("cp932"),
    "ｱｲｳｴｵｶｷｸｹｺ".encode("cp932"),
    b"\x80" * W,  # U+0080: one byte in CP932, two by the 桁数 count (and a control character)
    b"\xa0\xfd\xfe\xff" * 2
    + b"\xa0\xa0",  # U+F8F0-U+F8F3: one byte each, two by the count (外字, kept: flag)
    b"\x80" + "あいう".encode("cp932"),  # one U+0080 among others, within every bound
    "あいうえお".encode("cp932"),
    "ＡＢ１２　".encode("cp932"),
    "①髙﨑㈱".encode("cp932"),
    "\u3000\u3000  ｽﾍﾟｰ".encode("cp932"),
    b"",
    b"L",
    b"20190501",
    b"4010108",
    b"3640100",
]
CODES = "id: long\nname: long codes\nmap: {L: " + f'"ＸＸＸＸＸＸＸＸＸＸＸ{OUTSIDE}"' + ", A: a}\n"


def _variants(encoding: str) -> list[tuple[str, str]]:
    """The target items per case: x at several lengths, so each bound is tried just in and just out."""
    out = [("x_b2", f"bytes: {2 * W}"), ("x_b1", f"bytes: {W}"), ("x_ch", f"chars: {W}")]
    return out + ([("x_b3", f"bytes: {3 * W}")] if encoding.startswith("utf-8") else [])


# Values only another source encoding can hold: EUC-JP's JIS X 0212 (three bytes, outside CP932) and its
# two-byte half-width kana; Shift_JIS's 0x8160, the wave dash U+301C, which CP932 does not give back.
EXTRA_VALUES = {
    "euc-jp": ["\u02d8\u02d8\u02d8".encode("euc_jp"), "ｶｶｶｶｶ".encode("euc_jp")],
    "shift_jis": [b"\x81\x60" * 5],
}


def _values(source: str) -> list[bytes]:
    """VALUES in the source encoding (cut to W bytes; characters it cannot hold left out), then its own."""
    if source == "cp932":
        return VALUES
    out = []
    for raw in VALUES:
        text = "".join(c for c in raw.decode("cp932") if c.encode(source, errors="ignore"))
        while len(text.encode(source)) > W:
            text = text[:-1]
        out.append(text.encode(source))
    return out + EXTRA_VALUES[source]


def _corpus(tmp: Path, encoding: str, repertoire: str, source: str = "cp932") -> tuple[Path, list[str]]:
    items = "".join(
        f"      - {{id: {i}, name: {i}, type: string, {unit}}}\n" for i, unit in _variants(encoding)
    )
    files = "".join(
        f"  - id: {case}\n    name: {case}\n    key: [rec]\n    items:\n"
        "      - {id: rec, name: rec, type: string, digits: 4, required: true}\n" + items
        for case in CASES
    )
    layouts = tmp / "layouts" / "test" / "proof"
    layouts.mkdir(parents=True)
    (layouts / "1.0.yaml").write_text(
        'family: test\nfamily_name: t\ngyomu: proof\ngyomu_name: p\nversion: "1.0"\n'
        f"encoding: {encoding}\nprovenance: synthetic\n{repertoire}\nfiles:\n{files}",
        encoding="utf-8",
    )
    maps = tmp / "map"
    (maps / "codes").mkdir(parents=True)
    (maps / "codes" / "long.yaml").write_text(CODES, encoding="utf-8")
    (maps / "source.yaml").write_text(
        "vendor: p\nname: p\nfiles:\n"
        + "".join(
            f"  - id: s_{case}\n    name: S_{case}.DAT\n    format: fixed\n    encoding: {source}\n"
            f'    match: "S_{case}.DAT"\n    record_length: 24\n    terminator: crlf\n    offset_base: 1\n'
            "    fields:\n      - {id: NUM, start: 1, length: 4}\n      - {id: F, start: 5, length: 10}\n"
            "      - {id: G, start: 15, length: 10}\n"
            for case in CASES
        ),
        encoding="utf-8",
    )
    rules = "".join(
        f"  {case}:\n    from: s_{case}\n    items:\n      rec: {{from: NUM, ops: [trim]}}\n"
        + "".join(f"      {i}: {CASES[case]}\n" for i, _ in _variants(encoding))
        for case in CASES
    )
    (maps / "m.yaml").write_text(
        'mapping: {id: p, version: "1", source: source.yaml, target: "test/proof@1.0"}\n'
        "code_maps: {long: codes/long.yaml}\n"
        'era_schemes:\n  digits: {"1": meiji, "2": taisho, "3": showa, "4": heisei, "5": reiwa}\n'
        f"files:\n{rules}",
        encoding="utf-8",
    )
    data = b"".join(
        fixed_record([(f"{k:04d}", 4), (v, W), (v, W)], 24) + b"\r\n" for k, v in enumerate(_values(source))
    )
    for case in CASES:
        (tmp / f"S_{case}.DAT").write_bytes(data)
    return maps / "m.yaml", [str(tmp / f"S_{case}.DAT") for case in CASES]


def _convert(mapping: Path, inputs: list[str], out: Path, prove: bool, mp: pytest.MonkeyPatch) -> dict:
    """Unmapped 外字 kept (`flag`), so that the values holding them reach validation."""
    mp.setenv(proof.ENV, "1" if prove else "0")
    options = ConvertOptions(("parquet", "standard"), workers=1, gaiji_unmapped="flag")
    convert([load_mapping(mapping)], inputs, out, options)
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _rejected(out: Path) -> set[tuple[str, str, str]]:
    """(target file, item, rule) of every reject of the validate stage."""
    rejects = pl.read_parquet(out / "rejects.parquet").filter(pl.col("stage") == "validate")
    rows = rejects.select("file", "item", "rule").iter_rows()
    return {(Path(f).stem.removeprefix("S_"), i, r) for f, i, r in rows}


def _proven(manifest: dict) -> set[tuple[str, str, str]]:
    """(target file, item, rule) proven for every value."""
    entries = manifest["validation"]["proven"]
    return {(p["target"].rsplit(":", 1)[1], p["item"], p["rule"]) for p in entries if "unless" not in p}


def _conditional(manifest: dict) -> dict[tuple[str, str, str], str]:
    """(target file, item, rule) → the characters it is proven unless a value holds."""
    return {
        (p["target"].rsplit(":", 1)[1], p["item"], p["rule"]): "".join(
            chr(int(c.removeprefix("U+"), 16)) for c in p["unless"].split()
        )
        for p in manifest["validation"]["proven"]
        if "unless" in p
    }


def _rejected_values(out: Path, source: str) -> dict[tuple[str, str, str], list[str]]:
    """(target file, item, rule) → the source text (F and G decoded) of each record it rejected."""
    rejects = pl.read_parquet(out / "rejects.parquet").filter(pl.col("stage") == "validate")
    found: dict[tuple[str, str, str], list[str]] = {}
    for f, i, r, raw in rejects.select("file", "item", "rule", "raw").iter_rows():
        text = raw[4:24].decode(source, errors="replace")
        found.setdefault((Path(f).stem.removeprefix("S_"), i, r), []).append(text)
    return found


# What injected values break through each case (target file, item, rule): they must be rejected with
# proofs on, so the proof must not have dropped them (CP932 source; other sources: SOURCE_BREAKS).
BREAKS: dict[str, set[tuple[str, str]]] = {
    "trim": {("x_b1", "length_bytes")},  # U+0080 × 10: 20 by the count
    "zenkaku_kana": {("x_b1", "length_bytes")},  # ｱｲｳｴｵｶｷｸｹｺ: 10 bytes in, 20 out
    "default": {("x_b1", "length_bytes"), ("x_b1", "repertoire")},
    "replace": {("x_b2", "length_bytes"), ("x_ch", "length_chars"), ("x_b2", "repertoire")},
    "code": {("x_b2", "length_bytes"), ("x_ch", "length_chars"), ("x_b2", "repertoire")},
    "to_wareki": {("x_b1", "length_bytes")},
    "const": {("x_b2", "length_bytes"), ("x_ch", "length_chars"), ("x_b2", "repertoire")},
    "concat": {("x_b2", "length_bytes"), ("x_ch", "length_chars"), ("x_b2", "repertoire")},
}


SOURCE_BREAKS: dict[str, set[tuple[str, str, str]]] = {
    "euc-jp": {("trim", "x_b2", "repertoire"), ("zenkaku_kana", "x_b2", "repertoire")},  # ˘ (JIS X 0212)
    "shift_jis": {("trim", "x_b2", "repertoire"), ("hankaku_ascii", "x_b2", "repertoire")},  # U+301C
}
# Proven unless a value holds U+0080 or U+F8F0-U+F8F3 (10 bytes of CP932, counted as 20 by the CP932 桁数):
# rejected all the same, on the values b"\x80" * W and b"\xa0\xfd\xfe\xff..." (checked by the scan).
CONDITIONAL_BREAKS: dict[str, set[tuple[str, str, str]]] = {
    "cp932": {
        (case, "x_b1", "length_bytes") for case in ("trim", "hankaku_digits", "normalize_spaces", "null_if")
    }
}
# (label, target encoding, target repertoire line, source encoding)
RUNS = [
    ("cp932", "cp932", "", "cp932"),
    ("utf-8", "utf-8", "repertoire: jisx0208", "cp932"),
    ("euc-jp", "cp932", "", "euc-jp"),
    ("shift_jis", "cp932", "", "shift_jis"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, dict, Path, dict]]]:
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for label, encoding, repertoire, source in RUNS:
            tmp = tmp_path_factory.mktemp(label)
            mp.setenv("MIDLAYOUT_LAYOUTS", str(tmp / "layouts"))
            mapping, inputs = _corpus(tmp, encoding, repertoire, source)
            on = _convert(mapping, inputs, tmp / "on", True, mp)
            off = _convert(mapping, inputs, tmp / "off", False, mp)
            out[label] = (tmp / "on", on, tmp / "off", off)
    yield out


def test_every_op_declares_its_effect_and_has_a_case() -> None:
    for spec in OP_SPECS.values():
        assert spec.effect in EFFECTS, spec.name
        if spec.merges:
            assert spec.load_merges(), spec.name
    assert set(OP_SPECS) <= set(CASES), "an op without a case in this test: add one"


def test_an_op_without_a_declared_effect_fails_loudly() -> None:
    with pytest.raises(TypeError, match="declares no effect"):
        OpSpec("shout", bare=True)
    with pytest.raises(TypeError, match="declares no effect"):
        OpSpec("shout", bare=True, effect="maybe")
    with pytest.raises(TypeError, match="only a 'maps' op merges"):
        OpSpec("shout", bare=True, effect=INTRODUCES, merges="midlayout.text.normalize:KANA_MERGES")


@pytest.mark.parametrize("codec", ["cp932", "shift_jis", "euc_jp"])
def test_every_character_the_decoder_gives_round_trips_exhaustively(codec: str) -> None:
    atoms = proof.decoder_atoms(codec)
    assert atoms is not None
    chars = atoms.get_column("text").to_list()
    seen = set()
    for seq in proof._sequences(3 if codec == "euc_jp" else 2):  # every 1- and 2-byte sequence (EUC-JP: 3)
        try:
            text = seq.decode(codec)
        except UnicodeDecodeError:
            continue
        if len(text) == 1 and text != "\ufffd":
            assert text.encode(codec).decode(codec) == text, (codec, seq)
            seen.add(text)
    assert seen == set(chars)
    assert len(chars) > 7000


def test_euc_jp_text_is_not_proven_inside_cp932() -> None:
    atoms = proof.decoder_atoms("euc_jp")
    assert atoms is not None
    outside = [c for c in atoms.get_column("text").to_list() if not fits(c, "cp932")]
    assert outside  # JIS X 0212 characters CP932 does not have
    assert proof._repertoire_ok("".join(outside[:5]), _cp932_layout()) is None
    cp932 = proof.decoder_atoms("cp932")
    assert cp932 is not None and proof._repertoire_ok("".join(cp932.get_column("text")), _cp932_layout())


def _cp932_layout():  # type: ignore[no-untyped-def]
    return load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml").target


@pytest.mark.parametrize("label", [r[0] for r in RUNS])
def test_the_proof_is_never_wrong_through_every_op(
    runs: dict[str, tuple[Path, dict, Path, dict]], label: str
) -> None:
    """CP932 into CP932 and into UTF-8 with JIS X 0208; EUC-JP and Shift_JIS into CP932."""
    on_dir, on, off_dir, off = runs[label]
    proven = _proven(on)
    broken_off = _rejected(off_dir)
    # No rule the proof dropped fails when it is checked.
    assert not proven & broken_off, sorted(proven & broken_off)
    assert _proven(off) == set() and _conditional(off) == {}
    # A rule proven unless a value holds some characters fails, when checked, only on values holding one.
    source = {r[0]: r[3] for r in RUNS}[label]
    values = _rejected_values(off_dir, source.replace("-", "_"))
    for key, unless in _conditional(on).items():
        for text in values.get(key, []):
            assert set(text) & set(unless), (key, text)
    # Proofs on and off: the same outputs and rejects.
    _assert_same(_outputs(on_dir), _outputs(off_dir))
    broken_on = _rejected(on_dir)
    assert broken_on == broken_off
    for case, breaks in BREAKS.items():
        for item, rule in breaks:
            if label != "cp932" and rule == "length_bytes":
                continue  # other widths and values there; the cp932 run holds these
            assert (case, item, rule) in broken_on, (case, item, rule)
            assert (case, item, rule) not in proven
    for broken in SOURCE_BREAKS.get(label, set()):
        assert broken in broken_on and broken not in proven, broken
    for broken in CONDITIONAL_BREAKS.get(label, set()):  # checked on the values that hold U+0080 or U+F8Fx
        assert broken in broken_on and broken in _conditional(on), broken
    # Nothing is proven after an op that introduces text, nor for const, concat with an unknown
    # separator's repertoire, or a lookup.
    for case in [*(n for n, s in OP_SPECS.items() if s.effect == INTRODUCES), "const", "lookup"]:
        assert not {p for p in proven if p[0] == case and p[1] != "rec"}, case
    assert not {p for p in proven if p[0] == "concat" and p[1] != "rec" and p[2] == "repertoire"}


def test_what_the_cp932_run_proves(runs: dict[str, tuple[Path, dict, Path, dict]]) -> None:
    """The bounds themselves: W bytes of CP932 can count 2W in CP932 (U+0080, one byte, counts two), and
    W characters; half-width kana made full-width stay within 2W; CP932 text is inside CP932."""
    proven = _proven(runs["cp932"][1])
    for case in ("trim", "zenkaku_kana", "hankaku_ascii", "hankaku_digits", "normalize_spaces", "null_if"):
        for item, rule in (("x_b2", "length_bytes"), ("x_ch", "length_chars")):
            assert (case, item, rule) in proven, (case, item, rule)
        assert {i for c, i, r in proven if c == case and r == "repertoire"} == {"rec", "x_b2", "x_b1", "x_ch"}
        assert (case, "x_b1", "length_bytes") not in proven
    assert ("concat_known", "x_b2", "repertoire") in proven
    assert ("concat_known", "x_b2", "length_bytes") not in proven  # 10 + 10 bytes + "・" can count 42
    # The UTF-8 target with JIS X 0208: CP932's NEC and IBM extensions are outside it, nothing proven
    # about the repertoire; half-width kana are 3 bytes in UTF-8, so W bytes may be 3W.
    utf8 = _proven(runs["utf-8"][1])
    assert not {p for p in utf8 if p[2] == "repertoire"}
    assert ("trim", "x_b3", "length_bytes") in utf8 and ("trim", "x_b2", "length_bytes") not in utf8
    # EUC-JP and Shift_JIS text is not inside CP932 (JIS X 0212; the wave dash): no repertoire proof. Their
    # widths still bound the 桁数: 10 bytes of EUC-JP count at most 20 in CP932.
    for label in ("euc-jp", "shift_jis"):
        other = _proven(runs[label][1])
        assert not {p for p in other if p[2] == "repertoire"}, label
        assert ("trim", "x_b2", "length_bytes") in other, label


def test_manifest_lists_proven_rules_without_values(runs: dict[str, tuple[Path, dict, Path, dict]]) -> None:
    on = runs["cp932"][1]
    entries = on["validation"]["proven"]
    keys = {"mapping", "target", "item", "rule", "why"}
    assert entries and all(set(e) - {"unless"} == keys for e in entries)
    # `unless`: code points, never the characters themselves
    unless = {e["target"].rsplit(":", 1)[1]: e["unless"] for e in entries if "unless" in e}
    assert unless["trim"] == "U+0080 U+F8F0 U+F8F1 U+F8F2 U+F8F3"
    # normalize_spaces merges runs of spaces into one: the space is in its set (a merge may hide U+0080)
    assert unless["normalize_spaces"] == "U+0020 U+0080 U+F8F0 U+F8F1 U+F8F2 U+F8F3"
    assert all(e["rule"] in proof.PROVABLE for e in entries)
    text = json.dumps(on["validation"], ensure_ascii=False)
    for value in ("ABCDEFGHIJ", "あいうえお", "ｱｲｳｴｵ"):
        assert value not in text
    # The proof is not part of the run identity: it changes no content.
    assert on["run_id"] == runs["cp932"][3]["run_id"]


def test_samples_same_with_and_without_proofs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        (
            [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"],
            [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")],
        ),
        (
            [MAPPINGS / "vendor_b" / "juki-2.5.yaml"],
            [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")],
        ),
    ]
    for k, (mappings, inputs) in enumerate(cases):
        maps = [load_mapping(m) for m in mappings]
        outs = []
        for prove in ("1", "0"):
            monkeypatch.setenv(proof.ENV, prove)
            for validator in ("fused", "pandera"):
                out = tmp_path / f"{k}-{prove}-{validator}"
                convert(
                    maps,
                    inputs,
                    out,
                    ConvertOptions(("parquet", "standard"), batch_size=7, validator=validator),
                )
                outs.append(_outputs(out))
        for other in outs[1:]:
            _assert_same(outs[0], other)


@pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")
@pytest.mark.parametrize("policy", ["reject", "flag"])
@pytest.mark.parametrize("table", [True, False])
def test_trap_corpus_same_with_and_without_proofs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, table: bool
) -> None:
    """The text-fidelity corpus (外字, wave dash, NEC/IBM extensions, cut and invalid bytes, EBCDIC); without
    its 外字 table, the CP932 file's text items are proven (a table's replacements prove nothing)."""
    mapping, inputs = fidelity._corpus(tmp_path, "")
    if not table:
        text = mapping.read_text(encoding="utf-8")
        mapping.write_text(
            "".join(ln for ln in text.splitlines(True) if not ln.startswith("gaiji:")), "utf-8"
        )
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    outs = []
    proven = []
    for prove in ("1", "0"):
        monkeypatch.setenv(proof.ENV, prove)
        for validator in ("fused", "pandera"):
            out = tmp_path / f"{prove}-{validator}"
            opts = ConvertOptions(
                ("parquet", "standard"), batch_size=3, validator=validator, gaiji_unmapped=policy
            )
            convert([load_mapping(mapping)], inputs, out, opts)
            outs.append(_outputs(out))
            proven.append(_proven(json.loads((out / "manifest.json").read_text(encoding="utf-8"))))
    for other in outs[1:]:
        _assert_same(outs[0], other)
    expected = set() if table else {("person", "name", "repertoire"), ("person", "kana", "length_bytes")}
    assert expected <= proven[0] and (proven[0] == set()) == table
    assert proven[2] == set()


_POOL = sorted(
    set(proof.decoder_atoms("cp932").get_column("text").to_list()[::40])  # type: ignore[union-attr]
    | set("ｶﾞﾟﾊｳｰ｡ｱ　  ＡＺａ０９!~Aa09あ漢")
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_POOL), max_size=12))
def test_a_maps_op_acts_per_character_except_its_declared_merges(chars: list[str]) -> None:
    """What the proof assumes of every `maps` op in the table: on a value, its result is never longer
    (in bytes of any target encoding, or characters) than its results on each character, and holds only
    characters of those results or of its declared merges."""
    from midlayout.mapping.ops import OpContext, Value

    value = "".join(chars)
    for name, spec in OP_SPECS.items():
        if spec.effect != MAPS:
            continue

        def run(texts: list[str], spec: OpSpec = spec) -> list[str]:
            expr = spec.load()(Value(pl.col("t"), pl.String), None, OpContext("", None, 0, {}))[0].expr
            return pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(expr).to_series().to_list()

        whole = run([value])[0]
        pieces = run(chars) if chars else []
        merged = "".join(run([r for _, r in spec.load_merges()])) if spec.load_merges() else ""
        assert set(whole) <= set("".join(pieces)) | set(merged), (name, value)
        for kind in ("length_bytes", "length_chars"):
            for encoding in ("cp932", "euc-jp", "utf-8"):
                most = sum(proof._measure(pieces, kind, encoding)) if pieces else 0
                assert proof._measure([whole], kind, encoding)[0] <= most, (name, value, kind, encoding)
