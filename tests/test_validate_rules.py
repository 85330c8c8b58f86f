"""The fused validation of `convert` (one polars `select` per batch) rejects exactly what the pandera
schema of the same layout rejects: same rows, rules, items and messages, in the same order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midlayout.layout.mapping import load_mapping
from midlayout.mapping.compile import apply, compile_file
from midlayout.pipeline.inputs import match_inputs
from midlayout.pipeline.options import gaiji_options
from midlayout.pipeline.plan import lookup_tables
from midlayout.readers import read_batches
from midlayout.synth import generate_vendor_a
from midlayout.text.encodings import byte_length
from midlayout.validate import repertoire, rules, schema
from tests.conftest import MAPPINGS

# Values that break a rule, or look as if they might: too long in bytes (and not in characters), outside
# CP932 (𠮷, the wave dash that CP932 turns into ～), inside it (髙, ﾊﾝｶｸ), empty, not digits, unknown code.
STRING_TRAPS = [None, "𠮷田", "〜", "ｱｲｳ" * 30, "髙", "A1", "9" * 40, "", "99", "ﾊﾝｶｸ", "ＡＢ" * 20]
# Control characters (C0, DEL, C1 such as CP932 0x80 → U+0080) in text: control_char in both validators.
STRING_TRAPS += ["住\t所", "\x80ｱ", "a\nb", "\x00", "x\x7f"]


def _mapped(tmp_path: Path) -> list[tuple[object, object, pl.DataFrame]]:
    """(layout, file, mapped rows) of every file of the A社 juki and 個人住民税 mappings."""
    files = generate_vendor_a(tmp_path / "a", 150, 3, workers=1)
    mappings = [load_mapping(MAPPINGS / "vendor_a" / n) for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]
    jobs = match_inputs(mappings, [str(p) for p in files.values()])
    tables = lookup_tables(jobs, 10_000, gaiji_options(mappings, None, None))
    out = []
    for job in jobs:
        compiled = compile_file(job.mapping, job.rule)
        rows = pl.concat([b.rows for b in read_batches(job.source, job.path, 10_000)])
        mapped, _ = apply(compiled, rows, tables)
        out.append((job.mapping.target, compiled.target, mapped))
    return out


def _break(rows: pl.DataFrame, file: object, rng: np.random.Generator) -> pl.DataFrame:
    cols = {}
    for it in file.items:  # type: ignore[attr-defined]
        values = rows.get_column(it.id).to_list()
        for k, i in enumerate(rng.choice(len(values), min(25, len(values)), replace=False)):
            if it.type in ("string", "code"):
                values[i] = STRING_TRAPS[k % len(STRING_TRAPS)]
            elif it.type == "number":
                values[i] = [None, 10**11, -(10**11), 0][k % 4]
            else:
                values[i] = None
        cols[it.id] = pl.Series(it.id, values, dtype=rows.schema[it.id], strict=False)
    return rows.with_columns(**cols)


@pytest.mark.parametrize("seed", [1, 7])
def test_fused_rules_reject_what_pandera_rejects(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    for layout, file, mapped in _mapped(tmp_path):
        broken = _break(mapped, file, rng)
        good, rejects = rules.validate_rows(layout, file, broken)  # type: ignore[arg-type]
        ref_good, ref_rejects = schema.validate_with_pandera(layout, file, broken)  # type: ignore[arg-type]
        assert good.equals(ref_good)
        assert rejects.equals(ref_rejects)
        assert good.height + rejects.select("record").n_unique() == broken.height
        seen |= set(rejects.get_column("rule"))
    # birth_date_if_known: the bundled 住民 rule (a nulled 生年月日 whose 生年月日不詳フラグ is 0)
    assert seen == {
        "required", "code_domain", "length_bytes", "length_digits", "repertoire", "control_char", "birth_date_if_known"
    }  # fmt: skip


def test_control_allowance_is_honoured_the_same_by_both_validators(tmp_path: Path) -> None:
    layout, file, mapped = _mapped(tmp_path)[0]
    values = ["コーポ\n２０３", "コーポ\r\n２０３", "\t方書", "方書"]
    broken = mapped.head(4).with_columns(pl.Series("katagaki", values, dtype=pl.String))
    allow = {"katagaki": "\n"}
    good, rejects = rules.validate_rows(layout, file, broken, allow)  # type: ignore[arg-type]
    ref_good, ref_rejects = schema.validate_with_pandera(layout, file, broken, allow=allow)  # type: ignore[arg-type]
    assert good.equals(ref_good) and rejects.equals(ref_rejects)
    assert good.get_column("katagaki").to_list() == ["コーポ\n２０３", "方書"]
    assert rejects.select("rule", "message").rows() == [
        ("control_char", "方書: control character U+000D (CR) at char 4, byte 6 in cp932"),
        ("control_char", "方書: control character U+0009 (TAB) at char 1, byte 0 in cp932"),
    ]
    _, strict = rules.validate_rows(layout, file, broken)  # type: ignore[arg-type]
    assert strict.height == 3  # without the allowance the LF is a reject too


def test_clean_rows_pass_whole(tmp_path: Path) -> None:
    for layout, file, mapped in _mapped(tmp_path):
        good, rejects = rules.validate_rows(layout, file, mapped)  # type: ignore[arg-type]
        assert good.equals(mapped) and rejects.height == 0


def test_messages_name_the_item_and_never_the_value(tmp_path: Path) -> None:
    layout, file, mapped = _mapped(tmp_path)[0]
    assert file.id == "jumin"  # type: ignore[attr-defined]
    broken = mapped.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("𠮷野")).otherwise("shimei").alias("shimei"),
        pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise("jusho").alias("jusho"),
    )
    _, rejects = rules.validate_rows(layout, file, broken)  # type: ignore[arg-type]
    by_rule = {r["rule"]: r for r in rejects.iter_rows(named=True)}
    assert by_rule["repertoire"]["message"] == "outside cp932: U+20BB7 at char 1"
    assert by_rule["repertoire"]["record"] == mapped.get_column("_rec")[0]
    assert by_rule["required"]["message"] == "住所: required, but empty"
    assert "𠮷" not in "".join(rejects.get_column("message"))


def test_a_mapping_bug_is_not_reported_as_bad_data(tmp_path: Path) -> None:
    layout, file, mapped = _mapped(tmp_path)[0]
    with pytest.raises(TypeError, match="dtype"):
        rules.validate_rows(layout, file, mapped.with_columns(pl.col("shimei").cast(pl.Categorical)))  # type: ignore[arg-type]


# Characters that count differently in each measure: ASCII, U+0080 (1 UTF-8 byte more, 2 by the 桁数 count),
# half-width kana (3 UTF-8 bytes, 1 counted), kanji, JIS X 0212 (EUC-JP), 𠮷 (4 UTF-8 bytes), selectors.
_MEASURED = st.lists(
    st.sampled_from(["A", " ", "\x80", "ｶ", "ﾞ", "漢", "　", "˘", "𠮷", "\ufe00", "\U000e0100", "é"]),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), _MEASURED.map("".join)), min_size=1, max_size=8), st.integers(0, 30))
def test_the_length_rules_answer_as_the_counts_do(values: list[str | None], length: int) -> None:
    """`within_bytes` / `within_chars` skip the regex count where vectorised counts settle the answer; on
    every value (null included) they answer what the count itself answers."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    col = pl.col("v")
    for encoding in ("cp932", "shift_jis", "euc-jp", "utf-8"):
        fast = frame.select(rules.within_bytes(col, encoding, length)).to_series().to_list()
        assert fast == frame.select(byte_length(col, encoding) <= length).to_series().to_list(), encoding
    fast = frame.select(rules.within_chars(col, length)).to_series().to_list()
    assert fast == frame.select(rules.char_length(col) <= length).to_series().to_list()


def test_rules_that_cannot_fail_alone_are_checked_only_where_their_guard_fails(tmp_path: Path) -> None:
    """A code item's rules that every code passes wait for `code_domain`; a digits item's control_char and
    repertoire for `length_digits`; a 桁数 proven unless U+0080 or U+F8Fx, with control_char, for one scan;
    another 桁数 for its bound."""
    layout, file, mapped = _mapped(tmp_path)[0]
    unless = "\x80\uf8f0\uf8f1\uf8f2\uf8f3"
    proven = {("shimei", "length_bytes"): unless, ("shimei", "repertoire"): ""}
    found = rules.file_rules(layout, file, None, proven)  # type: ignore[arg-type]
    guarded, scans, _ = rules.guards(found, layout, proven)  # type: ignore[arg-type]
    named = {(found[k].item.id, found[k].id): g for k, g in guarded.items()}
    index = {(r.item.id, r.id): f"__f{k}" for k, r in enumerate(found)}
    for rule in ("length_digits", "control_char", "repertoire"):
        assert named[("seibetsu", rule)] == index[("seibetsu", "code_domain")]
    for rule in ("control_char", "repertoire"):
        assert named[("yubin_no", rule)] == index[("yubin_no", "length_digits")]
    assert named[("shimei", "length_bytes")] == named[("shimei", "control_char")]
    assert scans[named[("shimei", "length_bytes")]][0] == "shimei"
    assert ("shimei", "repertoire") not in index  # proven outright: not a rule of the run
    # not proven here: counted where its bound (characters and UTF-8 bytes) does not settle it
    assert named[("jusho", "length_bytes")].startswith("__b")
    # A rule a code of the table breaks is not guarded by the table: with a code "1\t", control_char and
    # length_digits are not (control_char waits for length_digits instead); repertoire still is.
    table = layout.code_tables["seibetsu"]  # type: ignore[attr-defined]
    tabbed = replace(table, codes={**table.codes, "1\t": "x"})
    odd = replace(layout, code_tables={**layout.code_tables, "seibetsu": tabbed})  # type: ignore[attr-defined]
    found = rules.file_rules(odd, file, None, proven)  # type: ignore[arg-type]
    guarded, _, _ = rules.guards(found, odd, proven)
    named = {(found[k].item.id, found[k].id): g for k, g in guarded.items()}
    assert ("seibetsu", "length_digits") not in named
    assert named[("seibetsu", "control_char")] == index[("seibetsu", "length_digits")]
    assert named[("seibetsu", "repertoire")] == index[("seibetsu", "code_domain")]
    # Rejects of values the guards single out: the same as pandera's, which checks every rule everywhere.
    values = ["山田\x80", "\uf8f0" * 40, "山田\t", "山田"]
    addresses = ["東" * 61, "a" * 120 + "\x80", "ｱ" * 121, "東京"]
    broken = mapped.head(4).with_columns(
        pl.Series("shimei", values, dtype=pl.String),
        pl.Series("seibetsu", ["x", "1\t", "12", "1"], dtype=pl.String),
        pl.Series("yubin_no", ["12a", "1\x00", "1" * 8, "1234567"], dtype=pl.String),
        pl.Series("jusho", addresses, dtype=pl.String),
    )
    good, rejects = rules.validate_rows(layout, file, broken, None, proven)  # type: ignore[arg-type]
    ref_good, ref_rejects = schema.validate_with_pandera(layout, file, broken, proven=proven)  # type: ignore[arg-type]
    assert good.equals(ref_good) and rejects.equals(ref_rejects)
    assert {("shimei", "length_bytes"), ("jusho", "length_bytes")} <= set(
        rejects.select("item", "rule").rows()
    )
    assert good.height == 1


@pytest.mark.parametrize("codec", sorted(repertoire.NOT_BACK))
def test_the_characters_that_do_not_come_back_are_all_listed(codec: str) -> None:
    """Over every code point: what the codec encodes but decodes to another character is NOT_BACK."""
    found = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        try:
            raw = chr(cp).encode(codec)
        except UnicodeEncodeError:
            continue
        if raw.decode(codec) != chr(cp):
            found.append(chr(cp))
    assert "".join(found) == repertoire.NOT_BACK[codec]


_ROUND = [
    "A",
    "漢",
    "ｶ",
    "〜",
    "～",
    "¢",
    "￠",
    "¬",
    "−",
    "‖",
    "¥",
    "‾",
    "˘",
    "𠮷",
    "髙",
    "①",
    "\x80",
    "か\u309a",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_ROUND), max_size=6).map("".join)), max_size=6))
def test_a_column_fits_when_each_value_does(values: list[str | None]) -> None:
    """`column_fits` (one encode per column, a decode only when a character may not come back) answers
    what `fits` answers value by value."""
    series = pl.Series(values, dtype=pl.String)
    for repertoires in (
        ("cp932",),
        ("shift_jis",),
        ("euc-jp",),
        ("utf-8", "jisx0208"),
        ("cp932", "jisx0213"),
    ):
        each = all(repertoire.fits(v, r) for v in values if v is not None for r in repertoires)
        assert repertoire.column_fits(series, repertoires) == each, repertoires
