"""The fused native decoder (readers/native.py) equals the reference `decode_column` + `apply_gaiji`:
exhaustively over every one- and two-byte sequence (and EUC-JP's three-byte ones), on random records of
several fields, with the trims it applies for the compiled mapping; numba stays out of processes that
do not decode; the reference decoder stays selectable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from midlayout import jit
from midlayout.errors import UsageError
from midlayout.layout.mapping import ItemRule, Lookup, Op, load_mapping
from midlayout.layout.ops import OP_SPECS
from midlayout.mapping.compile import compile_file
from midlayout.mapping.pushdown import BOTH, KANA, RIGHT, reader_trims, remaining_ops
from midlayout.readers import native
from midlayout.readers.decode import decode_column
from midlayout.readers.gaiji import GaijiSpec, apply_gaiji
from midlayout.text.normalize import hankaku_kana_to_zenkaku
from tests.conftest import MAPPINGS

CODECS = ["cp932", "shift_jis", "euc_jp"]


def _spec(codec: str) -> GaijiSpec:
    """A 外字 table entry, a declared range character and the policy that rejects the rest."""
    if codec == "euc_jp":
        return GaijiSpec(codec, {"\u2460": "(1)"}, frozenset({"髙"}), "reject")
    return GaijiSpec(codec, {"\ue000": "吉"}, frozenset({"髙", "\u2460"}), "reject")


def _reference(values: np.ndarray, spec: GaijiSpec, trim: int = 0) -> tuple[pa.Array, list, list]:
    arr, failures = decode_column(values, spec.codec)
    arr, hits = apply_gaiji(arr, spec)
    if trim & 3 == BOTH:
        arr = pc.utf8_trim(arr, characters=" \u3000")
    elif trim & 3 == RIGHT:
        arr = pc.utf8_rtrim(arr, characters=" \u3000")
    if trim & KANA:  # the mapping's own op, polars `zenkaku_kana`, on the decoded (and trimmed) text
        frame = pl.DataFrame({"v": pl.Series(arr.cast(pa.large_string()), dtype=pl.String)})
        arr = frame.select(hankaku_kana_to_zenkaku(pl.col("v")))["v"].to_arrow().cast(pa.large_string())
    return arr, failures, hits


def _assert_field(result: native.FieldResult, values: np.ndarray, spec: GaijiSpec, trim: int = 0) -> None:
    arr, failures, hits = _reference(values, spec, trim)
    got = result.array.cast(pa.large_string())
    if not got.equals(arr):
        bad = next(i for i in range(len(arr)) if got[i] != arr[i])
        raise AssertionError((bytes(values[bad]).hex(), got[bad], arr[bad]))
    assert result.failures == failures
    assert result.hits == hits


def _one_field(values: np.ndarray, spec: GaijiSpec, trim: int = 0) -> native.FieldResult:
    return native.decode_fields(values, [0], [values.shape[1]], [trim], spec)[0]


@pytest.mark.parametrize("codec", CODECS)
def test_every_one_and_two_byte_sequence_equals_decode_column(codec: str) -> None:
    spec = _spec(codec)
    ones = np.arange(256, dtype=np.uint8).reshape(256, 1)
    _assert_field(_one_field(ones, spec), ones, spec)
    pairs = np.arange(65536, dtype=">u2").view(np.uint8).reshape(65536, 2)
    _assert_field(_one_field(pairs, spec), pairs, spec)
    # Each pair as the last two bytes of a wider field (a lead byte cut at the field end, trail bytes
    # after a valid character), with the trims the reader applies.
    wide = np.full((65536, 4), 0x20, dtype=np.uint8)
    wide[:, 2:] = pairs
    for trim in (0, RIGHT, BOTH):
        _assert_field(_one_field(wide, spec, trim), wide, spec, trim)


@pytest.mark.parametrize("codec", CODECS)
def test_trailing_spaces_skipped_on_bytes_equal_decode_column(codec: str) -> None:
    """A trimmed field's trailing spaces are dropped on its bytes before it is decoded (the kernel's
    backward scan); every two-byte sequence followed by spaces and by the halves of a full-width space,
    where the scan splits the bytes elsewhere than decoding does (0x81 0x40 ends a kanji in CP932),
    decodes as the reference does."""
    spec = _spec(codec)
    wide = "\u3000".encode(codec)
    single, double, _ = native.utf8_tables(spec)
    assert native._pad_bytes(codec, single, double) == (0x20, wide[0], wide[1])
    pairs = np.arange(65536, dtype=">u2").view(np.uint8).reshape(65536, 2)
    for suffix in (b" ", wide, wide[1:] + b" ", wide[1:] + wide, b" " + wide + b" ", wide[:1] + wide):
        tail = np.frombuffer(suffix, dtype=np.uint8)
        values = np.concatenate([pairs, np.broadcast_to(tail, (65536, len(tail)))], axis=1)
        for trim in (RIGHT, BOTH, RIGHT | KANA):
            _assert_field(_one_field(values, spec, trim), values, spec, trim)


def test_a_space_the_gaiji_table_replaces_is_not_skipped() -> None:
    spec = GaijiSpec("cp932", {"\u3000": "_"}, frozenset(), "reject")
    single, double, _ = native.utf8_tables(spec)
    assert native._pad_bytes("cp932", single, double) == (0x20, -1, -1)
    values = np.frombuffer("山\u3000\u3000 ".encode("cp932"), dtype=np.uint8).reshape(1, -1)
    _assert_field(_one_field(values, spec, RIGHT), values, spec, RIGHT)


def test_every_euc_jp_three_byte_sequence_equals_decode_column() -> None:
    spec = _spec("euc_jp")
    triples = np.empty((65536, 3), dtype=np.uint8)
    triples[:, 0] = 0x8F
    triples[:, 1:] = np.arange(65536, dtype=">u2").view(np.uint8).reshape(65536, 2)
    _assert_field(_one_field(triples, spec), triples, spec)


def _random_records(rng: np.random.Generator, codec: str, n: int, widths: list[int]) -> np.ndarray:
    """Records of valid text, spaces (ASCII and full-width), and now and then a trap byte sequence."""
    words = ["山田", "太郎", "ﾔﾏﾀﾞ", "髙橋", "①", "A-1", "東京都", "　", " ", "\ue000", "\ue001", "〜", "－"]
    traps = [b"\x81", b"\x81\x20", b"\xff", b"\x8f", b"\x80", b"\xfd"]
    rows = []
    for _ in range(n):
        record = b""
        for width in widths:
            value = b""
            while len(value) < width and rng.random() < 0.8:
                word = words[rng.integers(len(words))]
                try:
                    value += word.encode(codec)
                except UnicodeEncodeError:
                    continue
                if rng.random() < 0.03:
                    value += traps[rng.integers(len(traps))]
            value = value[:width]  # may cut a character
            record += value + b" " * (width - len(value))
        rows.append(record + b"\n")
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(n, -1)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("seed", [1, 2026])
def test_random_records_equal_decode_column_field_by_field(codec: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    widths = [1, 2, 3, 7, 10, 24, 41]
    records = _random_records(rng, codec, 3000, widths)
    starts = list(np.cumsum([0, *widths[:-1]]))
    trims = [int(t) for t in rng.integers(0, 3, len(widths))]
    spec = _spec(codec)
    results = native.decode_fields(records, starts, widths, trims, spec)
    for start, width, trim, result in zip(starts, widths, trims, results, strict=True):
        _assert_field(result, records[:, start : start + width], spec, trim)


def test_columns_are_string_views_that_polars_takes_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values up to 12 bytes sit inside the view, longer ones point into the data buffer; a column with
    a value from the reference path, or a batch too large for int32 view offsets, is `large_string`."""
    import polars as pl

    spec = _spec("cp932")
    words = ["", "A", "山田", "東京都千代田", "東京都千代田区丸の内一丁目", "ﾔﾏﾀﾞ ﾀﾛｳ", "　高　"]
    raw = [w.encode("cp932").ljust(30) for w in words]
    records = np.frombuffer(b"".join(r + b"\x81" for r in raw), np.uint8).reshape(len(raw), 31)
    good, cut = native.decode_fields(records, [0, 29], [30, 2], [BOTH, 0], spec)
    assert good.array.type == pa.string_view() and cut.array.type == pa.large_string()
    assert pl.Series(good.array).to_list() == [w.strip(" \u3000") for w in words]
    _assert_field(good, records[:, :30], spec, BOTH)
    monkeypatch.setattr(native, "_VIEW_LIMIT", 16)
    (small,) = native.decode_fields(records, [0], [30], [BOTH], spec)
    assert small.array.type == pa.large_string()
    _assert_field(small, records[:, :30], spec, BOTH)


def test_empty_batch_and_no_text_fields() -> None:
    spec = _spec("cp932")
    empty = np.zeros((0, 5), dtype=np.uint8)
    (result,) = native.decode_fields(empty, [0], [5], [0], spec)
    assert len(result.array) == 0 and not result.failures
    assert native.decode_fields(empty, [], [], [], spec) == []


def test_decoder_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.DECODER_ENV, raising=False)
    assert native.decoder() == "native" and native.native_codec("cp932")
    assert not native.native_codec("utf-8") and not native.native_codec("ibm930")
    monkeypatch.setenv(native.DECODER_ENV, "python")
    assert not native.native_codec("cp932")
    monkeypatch.setenv(native.DECODER_ENV, "rust")
    with pytest.raises(UsageError, match="MIDLAYOUT_DECODER"):
        native.decoder()


def test_a_bad_decoder_setting_is_a_usage_error_not_an_internal_one(tmp_path: Path) -> None:
    """A mistyped MIDLAYOUT_DECODER is the user's setting: exit 2 with one line, not exit 3."""
    from typer.testing import CliRunner

    from midlayout.cli.app import app

    root = Path(__file__).resolve().parents[1]
    args = [
        "convert",
        "-m",
        str(root / "mappings/vendor_a/juki-2.5.yaml"),
        str(root / "samples/vendor_a/JUMIN.DAT"),
    ]
    args += [str(root / "samples/vendor_a/SETAI.DAT"), "--out", str(tmp_path / "out"), "--workers", "1"]
    result = CliRunner().invoke(app, args, env={native.DECODER_ENV: "rust"})
    assert result.exit_code == 2, result.output
    assert "MIDLAYOUT_DECODER must be 'native' or 'python'" in result.output


def test_cache_goes_to_a_user_folder_when_the_package_folder_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI runs as root, which ignores file modes: the check itself (os.access) is stood in for."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    here = Path(native.__file__).parent
    real_access = os.access
    monkeypatch.setattr(jit.os, "access", lambda p, mode: Path(p) != here and real_access(p, mode))
    assert jit.cache_dir(here) == str(tmp_path / "cache" / "midlayout" / "numba")
    monkeypatch.setattr(jit.os, "access", lambda p, mode: False)
    monkeypatch.setattr(jit.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    assert jit.cache_dir(here) == ""  # nowhere writable: compiled in memory
    monkeypatch.setattr(jit.os, "access", real_access)
    assert jit.cache_dir(here) is None  # writable package folder: numba's own __pycache__
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "given"))
    assert jit.cache_dir(here) == str(tmp_path / "given")


def test_unusable_cache_compiles_in_memory(tmp_path: Path) -> None:
    """A NUMBA_CACHE_DIR that cannot be created makes numba refuse `cache=True`: the kernel still works."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = (
        "import numpy as np\n"
        "from midlayout.readers import native\n"
        "from midlayout.readers.gaiji import GaijiSpec\n"
        "m = np.frombuffer('山田　'.encode('cp932'), np.uint8).reshape(1, -1)\n"
        "r = native.decode_fields(m, [0], [6], [1], GaijiSpec('cp932', {}, frozenset(), 'reject'))\n"
        "print(r[0].array.to_pylist())\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(blocker / "sub")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['山田']"


def test_numba_is_imported_only_when_decoding() -> None:
    code = (
        "import sys\n"
        "import midlayout.cli.app, midlayout.pipeline.convert, midlayout.readers.fixed, midlayout.readers.native\n"
        "assert 'numba' not in sys.modules, 'imported early'\n"
        "import numpy as np\n"
        "from midlayout.readers import native\n"
        "from midlayout.readers.gaiji import GaijiSpec\n"
        "native.decode_fields(np.zeros((1, 2), np.uint8), [0], [2], [0], GaijiSpec('cp932', {}, frozenset(), 'reject'))\n"
        "assert 'numba' in sys.modules\n"
        "from midlayout import jit\n"
        "assert jit.compile_seconds()['midlayout.readers.native._kernel_source'] > 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reader_trims_follow_every_use_of_a_field() -> None:
    mapping = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    rule = next(r for r in mapping.files if r.source == "jumin")
    source = mapping.source.file(rule.source)
    trims = reader_trims(rule, source)
    assert trims["NAME_KANJI"] == BOTH  # only `trim` uses it
    assert trims["ADDR1"] == RIGHT  # a concat part: right-trimmed when joined
    assert "BIRTH" not in trims  # parsed as 和暦 as it is
    # A captured lookup value is used untrimmed by the job that looks it up.
    lk = Lookup("jumin", "HEAD_ATENA_NO", "ATENA_NO", "NAME_KANJI")
    captured = reader_trims(rule, source, [lk])
    assert "NAME_KANJI" not in captured and captured["ATENA_NO"] == BOTH


def test_remaining_ops_drop_or_narrow_the_trim() -> None:
    both = ItemRule(
        "a", "from", ("F",), ops=(Op("trim", {"chars": " \u3000", "side": "both"}), Op("zenkaku_kana"))
    )
    assert remaining_ops(both, {"F": BOTH}) == (Op("zenkaku_kana"),)
    assert remaining_ops(both, {"F": RIGHT})[0].args == {"chars": " \u3000", "side": "left"}
    assert remaining_ops(both, {}) == both.ops
    other = ItemRule("a", "from", ("F",), ops=(Op("trim", {"chars": " ", "side": "both"}),))
    assert remaining_ops(other, {"F": BOTH}) == other.ops  # not the reader's trim: kept
    lk = ItemRule("b", "lookup", (), ops=both.ops, lookup=Lookup("s", "F", "K", "V"))
    assert remaining_ops(lk, {"F": BOTH}) == both.ops  # the ops apply to the looked-up value


def _value_text(compiled: Any, item: str) -> str:
    """An item's compiled expression as text, with the shared columns it reads written out."""
    ids = [i.id for i in compiled.target.items]
    text = str(compiled.values[ids.index(item)])
    for expr in compiled.shared:
        text = text.replace(f'col("{expr.meta.output_name()}")', str(expr))
    return text


def _jumin_compiled() -> tuple[Any, Any, Any]:
    """A社 JUMIN's mapping rule, compiled as is and with the reader's trims (and kana) pushed down."""
    mapping = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    rule = next(r for r in mapping.files if r.source == "jumin")
    trims = reader_trims(rule, mapping.source.file("jumin"))
    return rule, compile_file(mapping, rule), compile_file(mapping, rule, trims)


def test_compiled_mapping_leaves_out_the_trims_the_reader_applied() -> None:
    _, plain, pushed = _jumin_compiled()
    assert "strip_chars" in _value_text(plain, "shimei")
    assert "strip_chars" not in _value_text(pushed, "shimei")
    # jusho = concat(ADDR1, ADDR2) then trim: the parts' right trims were the reader's, the item's stays.
    assert "strip_chars_end" in _value_text(plain, "jusho")
    assert "strip_chars_end" not in _value_text(pushed, "jusho")
    assert "strip_chars(" in _value_text(pushed, "jusho")


def test_only_ops_the_reader_kernel_implements_are_marked_in_the_op_table() -> None:
    """`OpSpec.reader` promises that the fused decoder can apply the op: it trims spaces and makes kana
    full-width, nothing else."""
    assert {name for name, spec in OP_SPECS.items() if spec.reader} == {"trim", "zenkaku_kana"}


def test_clean_ranges_keep_written_and_writable_pages() -> None:
    """Only read-only mappings of the library with no written page are handed back: a RELRO page
    (relocated, then made read-only) read back from the file would lose its relocations."""
    smaps = [
        "7f0000000000-7f0000100000 r--p 00000000 fd:01 42 /x/llvmlite/binding/libllvmlite.so\n",
        "Rss:                 400 kB\n",
        "Private_Dirty:         0 kB\n",
        "7f0000100000-7f0000300000 r-xp 00100000 fd:01 42 /x/llvmlite/binding/libllvmlite.so\n",
        "Private_Dirty:         0 kB\n",
        "Anonymous:             0 kB\n",
        "7f0000300000-7f0000400000 r--p 00300000 fd:01 42 /x/llvmlite/binding/libllvmlite.so\n",
        "Private_Dirty:        12 kB\n",
        "7f0000400000-7f0000410000 rw-p 00400000 fd:01 42 /x/llvmlite/binding/libllvmlite.so\n",
        "Private_Dirty:         0 kB\n",
        "7f0000500000-7f0000600000 r-xp 00000000 fd:01 43 /x/libother.so\n",
        "Private_Dirty:         0 kB\n",
        "7f0000600000-7f0000700000 r--p 00000000 00:00 0 \n",
        "VmFlags: rd mr mw me\n",
        "7f0000700000-7f0000800000 r--p 00800000 fd:01 42 /x/llvmlite/binding/libllvmlite.so\n",
        "Private_Dirty:         0 kB\n",
    ]
    assert jit._clean_ranges(smaps, "libllvmlite.so") == [
        (0x7F0000000000, 0x7F0000100000),
        (0x7F0000100000, 0x7F0000300000),
        (0x7F0000700000, 0x7F0000800000),
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="pages are handed back on Linux only")
def test_compiler_pages_are_handed_back_and_numba_still_compiles() -> None:
    """After the kernel is loaded the process no longer holds LLVM's code resident; the kernel still
    decodes, and a later compile (which runs LLVM again) works."""
    code = (
        "import numpy as np, numba\n"
        "from midlayout import jit\n"
        "from midlayout.readers import native\n"
        "from midlayout.readers.gaiji import GaijiSpec\n"
        "def lib_rss():\n"
        "    kb, on = 0, False\n"
        "    for line in open('/proc/self/smaps'):\n"
        "        f = line.split()\n"
        "        if '-' in f[0] and not f[0].endswith(':'):\n"
        "            on = len(f) > 5 and f[5].endswith('libllvmlite.so')\n"
        "        elif on and f[0] == 'Rss:':\n"
        "            kb += int(f[1])\n"
        "    return kb\n"
        "numba.njit(lambda x: x + 1)(1)\n"
        "before = lib_rss()\n"
        "m = np.frombuffer('山田　'.encode('cp932'), np.uint8).reshape(1, -1)\n"
        "r = native.decode_fields(m, [0], [6], [1], GaijiSpec('cp932', {}, frozenset(), 'reject'))\n"
        "after = lib_rss()\n"
        "assert after < before / 2, (before, after)\n"
        "assert r[0].array.to_pylist() == ['山田']\n"
        "assert numba.njit(lambda x: x * 2 + 1)(np.arange(3)).tolist() == [1, 3, 5]\n"
        "r = native.decode_fields(m, [0], [6], [1], GaijiSpec('cp932', {}, frozenset(), 'reject'))\n"
        "assert r[0].array.to_pylist() == ['山田']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_warming_covers_the_signatures_a_run_meets() -> None:
    """Read-only record bytes (a view of the bytes read) and writable ones, read-only Arrow offsets and
    writable ones: warming compiled them all, so no call compiles later (which would also bring back the
    compiler's pages)."""
    code = (
        "import numpy as np, polars as pl\n"
        "from midlayout.readers import native\n"
        "from midlayout.readers.gaiji import GaijiSpec\n"
        "from midlayout.text import wareki_fast\n"
        "from midlayout import jit\n"
        "k = native._kernel()\n"
        "w = jit.kernel(wareki_fast._kernel_source, wareki_fast._warm)\n"
        "n, m = len(k.signatures), len(w.signatures)\n"
        "spec = GaijiSpec('cp932', {}, frozenset(), 'reject')\n"
        "raw = '山田　'.encode('cp932')\n"
        "for rows in (np.frombuffer(raw, np.uint8).reshape(1, -1), np.array(list(raw), np.uint8).reshape(1, -1)):\n"
        "    native.decode_fields(rows, [0], [6], [1], spec)\n"
        "for values in (['4310430', '5010101', None], ['4310430'], ['４310430', 'x' * 20, None]):\n"
        "    wareki_fast.parse_series(pl.Series(values), 'era_yymmdd', None)\n"
        "    wareki_fast.parse_series(pl.Series(values).slice(1), 'era2_yymmdd', None)\n"
        "assert (len(k.signatures), len(w.signatures)) == (n, m), (k.signatures, w.signatures)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- zenkaku_kana applied by the decoder ----------------------------------------------------------

KANA_MODES = (KANA, RIGHT | KANA, BOTH | KANA)


@pytest.mark.parametrize("codec", CODECS)
def test_decoder_kana_equals_zenkaku_kana_on_every_one_and_two_byte_sequence(codec: str) -> None:
    """Decoder-applied `zenkaku_kana` == polars `zenkaku_kana` of the decoded text, byte offsets of
    failures and 外字 included, over every one- and two-byte sequence, alone and at a field's end."""
    spec = _spec(codec)
    ones = np.arange(256, dtype=np.uint8).reshape(256, 1)
    _assert_field(_one_field(ones, spec, KANA), ones, spec, KANA)
    pairs = np.arange(65536, dtype=">u2").view(np.uint8).reshape(65536, 2)
    _assert_field(_one_field(pairs, spec, KANA), pairs, spec, KANA)
    wide = np.full((65536, 4), 0x20, dtype=np.uint8)
    wide[:, 2:] = pairs
    for mode in KANA_MODES:
        _assert_field(_one_field(wide, spec, mode), wide, spec, mode)


def test_decoder_kana_on_every_three_half_width_kana_and_spaces() -> None:
    """Every run of three CP932 half-width kana bytes (0xA1-0xDF: ﾞ/ﾟ after any kana, twice in a row),
    between spaces, so that a merge meets the field's start, end and trims."""
    kana = np.arange(0xA1, 0xE0, dtype=np.uint8)
    triples = np.stack(np.meshgrid(kana, kana, kana, indexing="ij"), axis=-1).reshape(-1, 3)
    spec = _spec("cp932")
    for left, right in ((0, 0), (1, 2), (2, 0)):
        records = np.full((len(triples), left + 3 + right), 0x20, dtype=np.uint8)
        records[:, left : left + 3] = triples
        for mode in KANA_MODES:
            _assert_field(_one_field(records, spec, mode), records, spec, mode)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("seed", [3, 2026])
def test_decoder_kana_on_random_fields_with_voiced_marks_at_their_ends(codec: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = ["ｶﾞ", "ﾊﾟ", "ﾊ", "ｳ", "ｳﾞ", "ﾞ", "ﾟ", "ｱ", "ｰ", "｡", "ﾔﾏﾀﾞ", "山田", "　", " ", "\ue000", "ガ", "\x81"]
    traps = [b"\x81", b"\xff", b"\xde", b"\xdf", b"\x8e"]
    widths = [1, 2, 3, 5, 8, 13]
    rows = []
    for _ in range(4000):
        record = b""
        for width in widths:
            value = b""
            while len(value) < width and rng.random() < 0.85:
                try:
                    value += words[rng.integers(len(words))].encode(codec)
                except UnicodeEncodeError:
                    continue
                if rng.random() < 0.03:
                    value += traps[rng.integers(len(traps))]
            value = value[:width]  # may cut a character, or a kana from its ﾞ
            record += value + b" " * (width - len(value))
        rows.append(record)
    records = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), -1)
    starts = [int(x) for x in np.cumsum([0, *widths[:-1]])]
    modes = [
        int(m) for m in rng.integers(0, 3, len(widths)) | np.where(rng.random(len(widths)) < 0.7, KANA, 0)
    ]
    spec = _spec(codec)
    results = native.decode_fields(records, starts, widths, modes, spec)
    for start, width, mode, result in zip(starts, widths, modes, results, strict=True):
        _assert_field(result, records[:, start : start + width], spec, mode)


def test_reader_applies_zenkaku_kana_only_when_every_use_starts_with_it() -> None:
    mapping = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    rule = next(r for r in mapping.files if r.source == "jumin")
    source = mapping.source.file(rule.source)
    trims = reader_trims(rule, source)
    assert trims["NAME_KANA"] == BOTH | KANA  # shimei_kana: [trim, zenkaku_kana]
    assert trims["NAME_KANJI"] == BOTH  # no kana op
    kana = ItemRule("k", "from", ("F",), ops=(Op("zenkaku_kana"), Op("null_if", ["ｱ"])))
    trimmed = ItemRule(
        "t", "from", ("F",), ops=(Op("trim", {"chars": " \u3000", "side": "right"}), Op("zenkaku_kana"))
    )
    plain = ItemRule("p", "from", ("F",), ops=(Op("trim", {"chars": " \u3000", "side": "both"}),))
    odd = ItemRule("o", "from", ("F",), ops=(Op("trim", {"chars": "ｱ", "side": "both"}), Op("zenkaku_kana")))
    later = ItemRule("l", "from", ("F",), ops=(Op("null_if", ["ｱ"]), Op("zenkaku_kana")))
    text = SimpleNamespace(fields=[SimpleNamespace(id="F", type="text")])

    def modes(*items: ItemRule) -> int:
        return reader_trims(SimpleNamespace(items=items), text).get("F", 0)  # type: ignore[arg-type]

    assert modes(kana) == KANA
    assert modes(kana, trimmed) == KANA  # the trims differ: none is the reader's, the kana is
    assert modes(trimmed) == RIGHT | KANA
    assert modes(trimmed, plain) == RIGHT  # a use that wants no kana
    assert modes(odd) == 0  # a trim of other characters first: order matters, nothing pushed
    assert modes(later) == 0  # the kana op is not first
    assert remaining_ops(kana, {"F": KANA}) == kana.ops[1:]
    assert remaining_ops(trimmed, {"F": RIGHT | KANA}) == ()
    assert remaining_ops(trimmed, {"F": KANA}) == trimmed.ops[:1]
    assert remaining_ops(trimmed, {"F": RIGHT}) == trimmed.ops[1:]
    both = ItemRule(
        "b", "from", ("F",), ops=(Op("trim", {"chars": " \u3000", "side": "both"}), Op("zenkaku_kana"))
    )
    assert remaining_ops(both, {"F": RIGHT | KANA}) == (Op("trim", {"chars": " \u3000", "side": "left"}),)


def test_compiled_mapping_leaves_out_the_kana_op_the_reader_applied_and_the_proof_keeps_it() -> None:
    rule, plain, pushed = _jumin_compiled()
    assert "replace_many" in _value_text(plain, "shimei_kana")
    assert "replace_many" not in _value_text(pushed, "shimei_kana")
    # mapping/proof.py reads the rule's own ops (pipeline/batches.py job_proofs): pushing down leaves them.
    assert [op.name for op in next(r for r in rule.items if r.item == "shimei_kana").ops] == [
        "trim",
        "zenkaku_kana",
    ]


def test_samples_convert_the_same_with_the_native_and_the_python_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on A社's samples (氏名カナ through the reader's trim + zenkaku_kana): identical content."""
    from midlayout.pipeline.convert import convert as run_convert
    from midlayout.pipeline.options import ConvertOptions
    from tests.conftest import SAMPLES

    maps = [load_mapping(MAPPINGS / "vendor_a" / n) for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    outs = {}
    for decoder in ("native", "python"):
        monkeypatch.setenv(native.DECODER_ENV, decoder)
        outs[decoder] = tmp_path / decoder
        run_convert(maps, inputs, outs[decoder], ConvertOptions(writers=("parquet", "standard"), workers=1))
    a, b = outs["native"], outs["python"]
    csvs = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert any(str(p).startswith("standard") for p in csvs)
    for rel in csvs:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    parquets = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert parquets
    for rel in parquets:
        assert pl.read_parquet(a / rel).equals(pl.read_parquet(b / rel)), rel
