"""The optimised convert (worker processes, byte-scan prefilters, one codec call per column, shared 和暦
parses, lookup columns captured on the source's own pass, fused validation expressions) gives exactly what
a simple reference path gives: per-value decoding, no prefilters, in-process, lookup sources read again,
validation by pandera. On the trap corpora
(samples/, the text-fidelity corpus) and on random synthetic data with traps, small batches."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout import kernels
from midlayout.layout.mapping import load_mapping
from midlayout.layout.source import SourceField, SourceFile
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.readers import decode, gaiji, plan_batches, read_piece
from midlayout.synth import generate_vendor_a, generate_vendor_b
from midlayout.text import ebcdic
from midlayout.text.encodings import CODECS
from midlayout.text.utf8 import valid_utf8
from midlayout.text.wareki_fast import parse_wareki_zeros
from midlayout.validate import repertoire
from midlayout.validate.registry import VALIDATORS
from tests import csv_reference
from tests import test_text_fidelity as fidelity
from tests.conftest import MAPPINGS, SAMPLES

WRITERS = ("parquet", "standard", "duckdb")
# The reference twins a fixed-width or a CSV input must exercise (besides those every run does).
FIXED = {"decode_column", "may_hold", "may_hold_gaiji", "wareki"}
CSV = {"csv.plan", "csv.read", "wareki"}


def _reference_decode(
    values: np.ndarray, codec: str, ascii_only: bool | None = None
) -> tuple[pa.Array, list]:
    texts, failures = decode._slow_path(values, codec)
    return decode.flag_suspect_chars(pa.array(texts, type=pa.large_string()), codec, failures)


def _reference_fits(values: pl.Series, repertoires: tuple[str, ...]) -> bool:
    return all(repertoire.fits("\n".join(values.drop_nulls().to_list()), r) for r in repertoires)


class _Calls(Counter[str]):
    """How often each reference twin ran."""

    def spy(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self[name] += 1
            return fn(*args, **kwargs)

        return counted


class _ReferenceCsv:
    """The CSV reader's per-record twin (tests/csv_reference.py) as a reader format."""

    def __init__(self, calls: _Calls) -> None:
        self.plan = calls.spy("csv.plan", csv_reference.ref_pieces)
        self.read = calls.spy("csv.read", csv_reference.ref_read_piece)


def _reference_kernels(calls: _Calls) -> kernels.Kernels:
    """Every fast path's simple twin: per-value decoding, no prefilters, unshared 和暦 parses, lookup
    sources read again, the per-record CSV reader."""
    return kernels.Kernels(
        decode_column=calls.spy("decode_column", _reference_decode),
        may_hold=calls.spy("may_hold", lambda arr, prefixes: True),
        may_hold_gaiji=calls.spy("may_hold_gaiji", lambda arr, spec: True),
        column_fits=calls.spy("column_fits", _reference_fits),
        wareki=calls.spy(
            "wareki", lambda ctx, text, args: parse_wareki_zeros(text, args["format"], args["eras"])
        ),
        lookup_captures=calls.spy("lookup_captures", lambda jobs: {}),
        formats={"csv": _ReferenceCsv(calls)},  # type: ignore[dict-item]
    )


@contextmanager
def _reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Calls]:
    """Register the reference kernels (`kernels="reference"`) and count the pandera validator's batches."""
    calls = _Calls()
    kernels.register("reference", lambda: _reference_kernels(calls))
    pandera = VALIDATORS["pandera"]()
    monkeypatch.setitem(VALIDATORS, "pandera", lambda: calls.spy("validator.pandera", pandera))
    try:
        yield calls
    finally:
        kernels.unregister("reference")


def _outputs(out: Path) -> dict[str, object]:
    """Everything a run leaves, compared by content (Parquet as frames, the rest as bytes or JSON)."""
    found: dict[str, object] = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if path.suffix == ".parquet":
            found[rel] = pl.read_parquet(path)
        elif path.suffix == ".csv":
            found[rel] = path.read_bytes()
        elif path.name == "manifest.json":
            m = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = (
                [(i["records_read"], i["records_written"], i["records_rejected"]) for i in m["inputs"]],
                m["rejects"],
                m["text"],
                m["status"],
                [(o["writer"], o["target"], o["rows"]) for o in m["outputs"]],
            )
    return found


def _assert_same(fast: dict[str, object], ref: dict[str, object]) -> None:
    assert fast.keys() == ref.keys()
    for key, value in fast.items():
        if isinstance(value, pl.DataFrame):
            assert value.equals(ref[key]), key  # type: ignore[arg-type]
        else:
            assert value == ref[key], key


def _both(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    mappings: list[Path],
    inputs: list[str],
    batch: int,
    ran: set[str],
    **kw: object,
) -> None:
    """Convert with the fast paths (2 workers) and with the reference twins (in-process); same outputs.
    `ran` names the reference twins these inputs must exercise (each is checked to have run)."""
    maps = [load_mapping(m) for m in mappings]
    fast = ConvertOptions(WRITERS, batch_size=batch, workers=2, **kw)  # type: ignore[arg-type]
    convert(maps, inputs, tmp_path / "fast", fast)
    with pytest.MonkeyPatch.context() as mp, _reference(mp) as calls:
        ref = replace(fast, workers=1, validator="pandera", kernels="reference")
        convert(maps, inputs, tmp_path / "ref", ref)
    expected = ran | {"column_fits", "lookup_captures", "validator.pandera"}
    assert {name for name in expected if not calls[name]} == set(), calls
    _assert_same(_outputs(tmp_path / "fast"), _outputs(tmp_path / "ref"))


@pytest.mark.slow
def test_samples_vendor_a_same_as_reference(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    _both(
        tmp_path,
        request,
        [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"],
        inputs,
        7,
        FIXED,
    )


@pytest.mark.slow
def test_samples_vendor_b_same_as_reference(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    inputs = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]
    _both(tmp_path, request, [MAPPINGS / "vendor_b" / "juki-2.5.yaml"], inputs, 5, CSV)


@pytest.mark.slow
@pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")
@pytest.mark.parametrize("policy", [None, "flag"])
def test_text_fidelity_corpus_same_as_reference(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, policy: str | None
) -> None:
    mapping, inputs = fidelity._corpus(tmp_path, "repertoire: jisx0208")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    _both(tmp_path, request, [mapping], inputs, 3, FIXED, gaiji_unmapped=policy)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 2026])
def test_random_synthetic_with_traps_same_as_reference(
    tmp_path: Path, request: pytest.FixtureRequest, seed: int
) -> None:
    a = generate_vendor_a(tmp_path / "a", 120, seed, traps=True, workers=1)
    b = generate_vendor_b(tmp_path / "b", 60, seed, traps=True, workers=1)
    b_cp932 = generate_vendor_b(tmp_path / "bc", 60, seed, workers=1, encoding="cp932")
    _both(
        tmp_path / "ra",
        request,
        [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"],
        [str(p) for p in a.values()],
        37,
        FIXED,
    )
    _both(
        tmp_path / "rb",
        request,
        [MAPPINGS / "vendor_b" / "juki-2.5.yaml"],
        [str(p) for p in b.values()],
        29,
        CSV,
    )
    _both(
        tmp_path / "rc",
        request,
        [MAPPINGS / "vendor_b" / "juki-2.5-cp932.yaml"],
        [str(p) for p in b_cp932.values()],
        50,
        CSV,
    )


# --- CSV reader: the optimised batch path against the per-record reference, on random data with traps ---

CSV_FIELDS = tuple(
    SourceField(f"f{i}", "text", column=name) for i, name in enumerate(("コード", "氏名", "住所", "備考"))
)
_TEXT = ["", "A", "0001", "山田　太郎", "ｶﾅ", "ＡＢ１２", "髙﨑①㈱", "〜", "表ソ能", "a,b", " sp ", "\\x"]
_UTF8_TRAPS: list[bytes] = [
    b"\xff",  # never valid
    b"\xed\xa0\x80",  # a surrogate
    b"\xc0\xaf",  # overlong
    b"\xe3\x81",  # cut at the field end
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    "\ufffd".encode(),  # a literal U+FFFD: rejected as replacement_char
    "\ue000".encode(),  # private use: 外字
    "\U000f0001".encode(),  # plane 15 private use
    "\ufeff".encode(),  # a BOM character inside a record
    "吉".encode(),  # mapped by the test's table (declared)
]
_CP932_TRAPS: list[bytes] = [
    b"\x81\x20",  # invalid trail byte
    b"\x88",  # lead byte cut at the field end
    b"\xf0\x40",  # 外字 (user-defined area), mapped by the test's table
    b"\xf0\x41",  # 外字, unmapped
    b"\xa0",  # decodes to U+F8F0 (private use)
    b"\x82\xa0",  # あ
    b"\x81\x5c",  # ― : trail byte 0x5C
]


def _field(rng: np.random.Generator, codec: str) -> bytes:
    roll = rng.random()
    traps = _UTF8_TRAPS if codec == "utf-8" else _CP932_TRAPS
    if roll < 0.12:
        value = traps[rng.integers(len(traps))] + str(rng.choice(_TEXT)).encode(codec)
    else:
        value = str(rng.choice(_TEXT)).encode(codec)
    style = rng.random()
    if style < 0.2 and not any(c in value for c in b'",\r\n'):  # unquoted (only when it can be)
        return value
    if style < 0.3:
        value += b'""x""'  # an embedded, doubled quote
    elif style < 0.38:
        value += b"\r\nnext" if rng.random() < 0.5 else b"\nnext"  # a quoted line break
    return b'"' + value + b'"'


def _random_csv(path: Path, rng: np.random.Generator, codec: str, records: int, bom: bool) -> None:
    header = ",".join(f.column for f in CSV_FIELDS).encode(codec)  # type: ignore[misc]
    out = [(b"\xef\xbb\xbf" if bom else b"") + header]
    for _ in range(records):
        n = 4
        roll = rng.random()
        if roll < 0.03:
            n = 3  # too few fields
        elif roll < 0.05:
            n = 5  # too many
        elif roll < 0.06:
            out.append(b"")  # a blank line
            continue
        out.append(b",".join(_field(rng, codec) for _ in range(n)))
    end = b"\r\n" if rng.random() < 0.5 else b"\n"
    tail = b"" if rng.random() < 0.5 else end  # the last record may lack its line end
    path.write_bytes(end.join(out) + tail)


def _spec(codec: str, policy: str) -> gaiji.GaijiSpec:
    table = {"\ue000": "吉"} if codec == "cp932" else {}
    declared = frozenset({"吉"}) if codec == "utf-8" else frozenset()
    return gaiji.GaijiSpec(codec, table, declared, policy)


def _batches(source: SourceFile, path: Path, batch: int, spec: gaiji.GaijiSpec) -> list[object]:
    return [read_piece(source, path, p, spec) for p in plan_batches(source, path, batch)]


def _reference_batches(source: SourceFile, path: Path, batch: int, spec: gaiji.GaijiSpec) -> list[object]:
    pieces = csv_reference.ref_pieces(source, path, batch)
    return [csv_reference.ref_read_piece(source, path, p, spec) for p in pieces]


def _assert_frames_equal(a: pl.DataFrame, b: pl.DataFrame, what: str) -> None:
    assert a.schema == b.schema, (what, a.schema, b.schema)
    assert a.height == b.height, (what, a.height, b.height)
    for col in a.columns:
        same = a.get_column(col).eq_missing(b.get_column(col))
        if not same.all():
            row = int(same.arg_min())  # type: ignore[arg-type]
            raise AssertionError((what, col, a.row(row, named=True), b.row(row, named=True)))


def _assert_same_batches(fast: list, ref: list) -> None:
    """Same rows, rejects and 外字 occurrences, batch by batch concatenated (where a batch ends may differ)."""
    assert sum(b.records_read for b in fast) == sum(b.records_read for b in ref)
    assert sum(b.bytes_read for b in fast) <= sum(b.bytes_read for b in ref) + 2 * len(fast)
    for what in ("rows", "rejects", "gaiji"):
        _assert_frames_equal(
            pl.concat([getattr(b, what) for b in fast]), pl.concat([getattr(b, what) for b in ref]), what
        )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_csv_reader_same_as_reference_on_random_traps(tmp_path: Path, encoding: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    codec = CODECS[encoding]
    source = SourceFile("c", "c.csv", "csv", encoding, "*", CSV_FIELDS)
    path = tmp_path / "c.csv"
    _random_csv(path, rng, codec, 300, bom=encoding == "utf-8-sig" or rng.random() < 0.3)
    for policy in ("reject", "flag"):
        spec = _spec(codec, policy)
        for batch in (1, 7, 64, 1000):
            _assert_same_batches(
                _batches(source, path, batch, spec), _reference_batches(source, path, batch, spec)
            )


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_csv_reader_same_as_reference_without_traps(tmp_path: Path, encoding: str) -> None:
    """Clean batches take the fast path end to end (no fallback): it must agree too."""
    rng = np.random.default_rng(5)
    codec = CODECS[encoding]
    source = SourceFile("c", "c.csv", "csv", encoding, "*", CSV_FIELDS)
    path = tmp_path / "c.csv"
    lines = [",".join(f.column for f in CSV_FIELDS).encode(codec)]  # type: ignore[misc]
    for _ in range(200):
        lines.append(b",".join(b'"' + str(rng.choice(_TEXT)).encode(codec) + b'"' for _ in range(4)))
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    spec = _spec(codec, "reject")
    for batch in (1, 13, 500):
        _assert_same_batches(
            _batches(source, path, batch, spec), _reference_batches(source, path, batch, spec)
        )


_QUOTE_FAULTS = (b'"', b'" ', b'"x', b' "', b'""', b'\n"', b'"\r\n')


@pytest.mark.parametrize("literal", [False, True])
@pytest.mark.parametrize("seed", [3, 11, 2027])
def test_csv_reader_same_as_reference_on_quoting_faults(tmp_path: Path, seed: int, literal: bool) -> None:
    """Stray, unclosed and misplaced quotes: the vectorised framing and the byte-by-byte reference agree
    record by record (rows, rejects with their rule and offset), whatever the batch size."""
    rng = np.random.default_rng(seed)
    source = SourceFile(
        "c", "c.csv", "csv", "utf-8", "*", CSV_FIELDS, bare_quotes="literal" if literal else "reject"
    )
    path = tmp_path / "c.csv"
    _random_csv(path, rng, "utf-8", 200, bom=False)
    data = bytearray(path.read_bytes())
    header_end = data.index(b"\n") + 1
    for _ in range(8):
        at = int(rng.integers(header_end, len(data)))
        data[at:at] = _QUOTE_FAULTS[rng.integers(len(_QUOTE_FAULTS))]
    path.write_bytes(bytes(data))
    spec = _spec("utf-8", "reject")
    fast = _batches(source, path, 1000, spec)
    rules = set(pl.concat([b.rejects for b in fast]).get_column("rule"))
    assert rules & {"quote_malformed", "quote_unclosed"}, rules
    for batch in (1, 7, 1000):
        _assert_same_batches(
            _batches(source, path, batch, spec), _reference_batches(source, path, batch, spec)
        )


def test_csv_reader_trap_bytes_are_seen(tmp_path: Path) -> None:
    """The random corpus really holds what the comparison is about (else the tests above prove little)."""
    for encoding in ("utf-8", "cp932"):
        codec = CODECS[encoding]
        source = SourceFile("c", "c.csv", "csv", encoding, "*", CSV_FIELDS)
        path = tmp_path / f"{encoding}.csv"
        _random_csv(path, np.random.default_rng(7), codec, 300, bom=False)
        batches = _reference_batches(source, path, 50, _spec(codec, "reject"))
        rules = set(pl.concat([b.rejects for b in batches]).get_column("rule"))  # type: ignore[attr-defined]
        gaiji_rows = sum(b.gaiji.height for b in batches)  # type: ignore[attr-defined]
        expected = {"field_count", "invalid_bytes", "gaiji_unmapped"}
        if codec == "utf-8":
            expected.add("replacement_char")
        assert expected <= rules, (encoding, rules)
        assert gaiji_rows > 0


CSV_CORPUS_SOURCE = """vendor: trapco
name: 罠社
files:
  - id: person
    name: person.csv
    format: csv
    encoding: {encoding}
    match: "person*.csv"
    header: true
    fields:
      - {{id: NUM, column: 番号}}
      - {{id: NAME, column: 氏名}}
      - {{id: KANA, column: カナ}}
      - {{id: BIRTH, column: 生年月日}}
"""
CSV_CORPUS_MAPPING = """mapping: {id: traps-csv, version: "1", source: source.yaml, target: "test/traps@1.0"}
gaiji: {table: gaiji.csv, encoding: cp932, unmapped: reject}
era_schemes:
  digits: {"1": meiji, "2": taisho, "3": showa, "4": heisei, "5": reiwa}
files:
  person:
    from: person
    items:
      rec_no: {from: NUM, ops: [trim]}
      name: {from: NAME, ops: [trim]}
      kana: {from: KANA, ops: [trim, zenkaku_kana]}
      birth: {from: BIRTH, ops: [{wareki: {format: era_yymmdd, eras: digits}}]}
      birth_fusho: {from: BIRTH, ops: [{wareki_unknown: {format: era_yymmdd, eras: digits}}]}
    leave_empty: [amount, packed]
"""


@pytest.mark.slow
@pytest.mark.parametrize("policy", [None, "flag"])
def test_text_fidelity_corpus_as_csv_same_as_reference(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, policy: str | None
) -> None:
    """The corpus' CP932 names (外字 mapped and not, cut and invalid bytes, wave dash) as a CP932 CSV,
    with quoted line breaks and doubled quotes added."""
    layouts = tmp_path / "layouts" / "test" / "traps"
    layouts.mkdir(parents=True)
    (layouts / "1.0.yaml").write_text(fidelity.LAYOUT.format(repertoire=""), encoding="utf-8")
    maps = tmp_path / "map"
    maps.mkdir()
    (maps / "source.yaml").write_text(CSV_CORPUS_SOURCE.format(encoding="cp932"), encoding="utf-8")
    (maps / "traps.yaml").write_text(CSV_CORPUS_MAPPING, encoding="utf-8")
    (maps / "gaiji.csv").write_bytes(fidelity.GAIJI.encode("utf-8"))
    lines = ["番号,氏名,カナ,生年月日".encode("cp932")]
    for k, (no, name, kana, birth, _, _) in enumerate(fidelity.PERSONS * 3):
        name = name + (b'\r\n""x""' if k % 4 == 1 else b"")
        lines.append(b'"%b","%b","%b",%b' % (no.encode(), name, kana.encode("cp932"), birth.encode()))
    person = tmp_path / "person.csv"
    person.write_bytes(b"\r\n".join(lines) + b"\r\n")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    _both(tmp_path, request, [maps / "traps.yaml"], [str(person)], 4, CSV, gaiji_unmapped=policy)


_UTF8_EDGES = st.sampled_from(
    [
        b"\xed\xa0\x80",
        b"\xed\x9f\xbf",
        b"\xc0\xaf",
        b"\xc2\x80",
        b"\xe0\x80\xaf",
        b"\xe0\xa0\x80",
        b"\xf0\x8f\xbf\xbf",
    ]
    + [
        b"\xf0\x90\x80\x80",
        b"\xf4\x8f\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
        b"\xef\xbb\xbf",
        b"\xe3\x81",
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(st.binary(max_size=6), _UTF8_EDGES, st.text(max_size=4).map(str.encode)), max_size=8)
)
def test_csv_utf8_check_is_as_strict_as_python(parts: list[bytes]) -> None:
    """The one-pass UTF-8 check of a batch accepts exactly what Python's strict decoder accepts."""
    data = b"".join(parts)
    try:
        data.decode("utf-8")
        strict = True
    except UnicodeDecodeError:
        strict = False
    assert valid_utf8(data) == strict


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.binary(max_size=6), _UTF8_EDGES, st.text(max_size=4).map(str.encode)), max_size=8),
    st.booleans(),
)
def test_csv_batch_utf8_is_checked_as_strictly_as_python(parts: list[bytes], quoted: bool) -> None:
    """A UTF-8 batch is checked by polars' parse (no pass of ours first): a record polars accepts decodes
    strictly in Python, one it refuses is an `invalid_bytes` row, in a quoted or an unquoted field."""
    from midlayout.readers.csv import _parse

    value = b"".join(parts)
    if quoted:
        value = b'"' + value.replace(b'"', b'""') + b'"'
    else:
        value = bytes(b for b in value if b not in b'",\r\n')
    record = b'"a",' + value + b',"c","d"'
    try:
        text = record.decode("utf-8")
        strict = True
    except UnicodeDecodeError:
        strict = False
    source = SourceFile("c", "csv", "csv", "utf-8", "*", CSV_FIELDS)
    header = [f.column for f in CSV_FIELDS]  # type: ignore[misc]
    data = b"\n".join([b'"x","y","z","w"', record, b'"e","f","g","h"']) + b"\n"
    raw = pa.array([b'"x","y","z","w"', record, b'"e","f","g","h"'], pa.binary())
    with mock.patch("midlayout.readers.csv.valid_utf8", wraps=valid_utf8) as check:
        frame, bad, _ = _parse(data, raw, np.zeros(3, dtype=bool), source, header, "utf-8")
    assert [row for row, _ in bad] == ([] if strict else [1])
    assert check.call_count == (0 if strict else 1)  # only to tell a bad byte from another parse error
    if strict:
        parsed = pl.read_csv(
            text.encode(), has_header=False, infer_schema=False, empty_string_is_null=False
        ).row(0)
        assert frame.row(1) == parsed
