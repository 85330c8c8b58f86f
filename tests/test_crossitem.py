"""Cross-item rules (条件付き必須): declared in a layout file's `rules:`, checked by both validators alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from midlayout.errors import DefinitionError
from midlayout.layout.standard import load_layout
from midlayout.validate import rules, schema
from tests.test_validate_rules import _mapped

LAYOUTS = Path(__file__).resolve().parents[1] / "layouts"

RULES = """
    rules:
      - id: birth_date_if_known
        when: {item: seinengappi_fusho, equals: "0"}
        require: [seinengappi]
      - id: no_ido_date_without_jiyu
        when: {item: ido_jiyu, absent: true}
        forbid: [ido_ymd]
        message: 異動年月日 without 異動事由
"""


def _with_rules(tmp_path: Path, text: str = RULES) -> Path:
    """A copy of chukan/juki@2.5 whose 住民 file carries `text` (in place of its bundled rules) after its key line."""
    folder = tmp_path / "juki"
    shutil.copytree(LAYOUTS / "chukan" / "juki", folder)
    path = folder / "2.5.yaml"
    src = path.read_text(encoding="utf-8")
    anchor = "    key: [atena_no]\n"
    head, tail = src.split(anchor, 1)
    if tail.startswith("    rules:\n"):  # the bundled birth_date_if_known rule: replaced by the test's own
        tail = tail[tail.index("    items:\n") :]
    src = head + anchor + tail
    path.write_text(src.replace(anchor, anchor + text.lstrip("\n"), 1), encoding="utf-8")
    return path


def test_rules_load_with_their_ids(tmp_path: Path) -> None:
    lay = load_layout(_with_rules(tmp_path))
    got = lay.file("jumin").rules
    assert [r.id for r in got] == ["birth_date_if_known", "no_ido_date_without_jiyu"]
    assert got[0].when.values == ("false",) and got[0].require == ("seinengappi",)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("      - {id: r, when: {item: nope, equals: '1'}, require: [shimei]}", "not an item"),
        ("      - {id: r, when: {item: shimei, equals: x}, require: [nope]}", "not an item"),
        ("      - {id: r, when: {item: shimei, present: true}}", "needs `require:`"),
        (
            "      - {id: r, when: {item: shimei, present: true, absent: true}, require: [jusho]}",
            "exactly one",
        ),
        ("      - {id: r, when: {item: seinengappi_fusho, equals: '2'}, require: [jusho]}", "flag"),
    ],
)
def test_bad_rules_are_definition_errors_at_their_line(tmp_path: Path, text: str, fault: str) -> None:
    path = _with_rules(tmp_path, "    rules:\n" + text + "\n")
    with pytest.raises(DefinitionError) as err:
        load_layout(path)
    assert fault in str(err.value) and "2.5.yaml:" in str(err.value)


def test_both_validators_reject_the_same_rows_with_the_rule_id(tmp_path: Path) -> None:
    lay = load_layout(_with_rules(tmp_path))
    _, _, mapped = _mapped(tmp_path)[0]
    file = lay.file("jumin")
    n = mapped.height
    idx = pl.int_range(pl.len())
    broken = mapped.with_columns(
        pl.when(idx % 7 == 0).then(None).otherwise(pl.col("seinengappi")).alias("seinengappi"),
        pl.when(idx % 7 == 0).then(False).otherwise(pl.col("seinengappi_fusho")).alias("seinengappi_fusho"),
        pl.when(idx % 11 == 0).then(None).otherwise(pl.col("ido_jiyu")).alias("ido_jiyu"),
        pl.when(idx % 11 == 0).then(pl.date(2020, 1, 1)).otherwise(pl.col("ido_ymd")).alias("ido_ymd"),
    )
    good, rejects = rules.validate_rows(lay, file, broken)
    ref_good, ref_rejects = schema.validate_with_pandera(lay, file, broken)
    assert rejects.equals(ref_rejects) and good.equals(ref_good)
    birth = rejects.filter(pl.col("rule") == "birth_date_if_known")
    ido = rejects.filter(pl.col("rule") == "no_ido_date_without_jiyu")
    assert birth.height == len(range(0, n, 7))
    assert ido.height == len(range(0, n, 11))
    assert set(birth.get_column("item")) == {"seinengappi"}
    assert set(birth.get_column("message")) == {"生年月日: required when 生年月日不詳フラグ is 0"}
    assert set(ido.get_column("message")) == {"異動年月日 without 異動事由"}
    assert good.height + rejects.select("record").n_unique() == n


def test_the_bundled_juki_layouts_carry_the_birth_date_rule() -> None:
    for version in ("2.4", "2.5"):
        lay = load_layout(LAYOUTS / "chukan" / "juki" / f"{version}.yaml")
        (rule,) = [r for r in lay.file("jumin").rules if r.id == "birth_date_if_known"]
        assert rule.when.item == "seinengappi_fusho" and rule.when.values == ("false",)
        assert rule.require == ("seinengappi",)


def test_a_row_the_condition_does_not_hold_for_passes(tmp_path: Path) -> None:
    lay = load_layout(_with_rules(tmp_path))
    _, _, mapped = _mapped(tmp_path)[0]
    unknown = mapped.with_columns(
        pl.lit(None, dtype=pl.Date).alias("seinengappi"), pl.lit(True).alias("seinengappi_fusho")
    )
    _good, rejects = rules.validate_rows(lay, lay.file("jumin"), unknown)
    assert "birth_date_if_known" not in set(rejects.get_column("rule"))
