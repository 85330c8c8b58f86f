"""Dates that say what they know: `blank:` and `partial:` on the wareki op, counts in the manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from midlayout.errors import DefinitionError
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline.convert import ConvertResult, convert
from midlayout.pipeline.options import ConvertOptions
from tests.builders import household, person, write_vendor_a
from tests.conftest import MAPPINGS

JUKI_A = MAPPINGS / "vendor_a" / "juki-2.5.yaml"
BIRTH_OPS = "{wareki: {format: era_yymmdd, eras: a, blank: unknown, partial: unknown}}"
IDO_OPS = "{wareki: {format: era_yymmdd, eras: a}}"


def _mapping(tmp_path: Path, birth: str = BIRTH_OPS, ido: str = IDO_OPS) -> Path:
    copy = tmp_path / "vendor_a"
    if not copy.exists():
        shutil.copytree(MAPPINGS / "vendor_a", copy)
    text = JUKI_A.read_text(encoding="utf-8")
    assert BIRTH_OPS in text and f"ido_ymd: {{from: IDO_DATE, ops: [{IDO_OPS}]}}" in text
    text = text.replace(
        f"seinengappi: {{from: BIRTH, ops: [{BIRTH_OPS}]}}", f"seinengappi: {{from: BIRTH, ops: [{birth}]}}"
    )
    text = text.replace(
        f"ido_ymd: {{from: IDO_DATE, ops: [{IDO_OPS}]}}", f"ido_ymd: {{from: IDO_DATE, ops: [{ido}]}}"
    )
    path = copy / "juki-test.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, people: list, mapping: Path = JUKI_A) -> tuple[ConvertResult, pl.DataFrame]:
    setai = sorted({int(str(p["SETAI_NO"])) for p in people})
    heads = {int(str(p["SETAI_NO"])): int(str(p["ATENA_NO"])) for p in reversed(people)}
    paths = write_vendor_a(tmp_path / "in", people, [household(s, heads[s]) for s in setai])
    result = convert(
        [load_mapping(mapping)], [str(p) for p in paths], tmp_path / "out", ConvertOptions(("parquet",))
    )
    jumin = pl.read_parquet(next((tmp_path / "out" / "parquet").rglob("jumin*.parquet")))
    return result, jumin.sort("atena_no")


def test_blank_or_all_zero_birth_date_sets_the_unknown_flag(tmp_path: Path) -> None:
    # Before: a blank 生年月日 was written as null with 生年月日不詳フラグ 0 (the flag claimed it known).
    people = [person(1, 1, 1, BIRTH=" " * 7), person(2, 2, 1, BIRTH="0000000"), person(3, 3, 1)]
    result, jumin = _run(tmp_path, people)
    assert result.rejects.height == 0
    assert jumin.select("seinengappi", "seinengappi_fusho").rows()[:2] == [(None, True), (None, True)]
    assert jumin.get_column("seinengappi_fusho").to_list()[2] is False


def test_blank_reject_is_a_located_reject(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path, birth="{wareki: {format: era_yymmdd, eras: a, blank: reject, partial: unknown}}"
    )
    result, jumin = _run(
        tmp_path, [person(1, 1, 1, BIRTH=" " * 7), person(2, 2, 1, BIRTH="0000000"), person(3, 3, 1)], mapping
    )
    r = result.rejects.filter(pl.col("rule") == "date_blank").sort("record")
    assert r.select("record", "item", "field").rows() == [
        (1, "seinengappi", "BIRTH"),
        (2, "seinengappi", "BIRTH"),
    ]
    assert jumin.height == 1


def test_partly_unknown_ido_date_is_a_reject_unless_the_mapping_accepts_the_loss(tmp_path: Path) -> None:
    # Before: 異動日 with month and day 00 became a null 異動年月日 with no trace.
    people = [person(1, 1, 1, IDO_DATE="4010000"), person(2, 2, 1, IDO_DATE="4010400"), person(3, 3, 1)]
    result, jumin = _run(tmp_path, people)
    r = result.rejects.filter(pl.col("rule") == "date_partial").sort("record")
    assert r.select("record", "item", "field").rows() == [
        (1, "ido_ymd", "IDO_DATE"),
        (2, "ido_ymd", "IDO_DATE"),
    ]
    assert jumin.height == 1
    accepting = _mapping(tmp_path, ido="{wareki: {format: era_yymmdd, eras: a, partial: null}}")
    result, jumin = _run(tmp_path / "b", people, accepting)
    assert result.rejects.height == 0 and jumin.get_column("ido_ymd").to_list() == [
        None,
        None,
        jumin["ido_ymd"][2],
    ]
    assert result.manifest.text["dates"] == {
        "partial_null": {"vendor_a-juki:jumin.ido_ymd": 2},
        "partial_null_total": 2,
    }
    assert result.manifest.options["date_policies"]["vendor_a-juki:jumin.ido_ymd"] == {
        "blank": "null",
        "partial": "null",
    }


def test_summary_names_the_accepted_loss(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from midlayout.cli import app

    accepting = _mapping(tmp_path, ido="{wareki: {format: era_yymmdd, eras: a, partial: null}}")
    paths = write_vendor_a(tmp_path / "in", [person(1, 1, 1, IDO_DATE="4010000")], [household(1, 1)])
    out = CliRunner().invoke(
        app,
        ["convert", "-m", str(accepting), *map(str, paths), "--out", str(tmp_path / "o"), "-w", "parquet"],
    )
    assert out.exit_code == 0, out.output
    assert "partial: null): vendor_a-juki:jumin.ido_ymd 1" in out.output


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            "{wareki: {format: era_yymmdd, eras: a, partial: maybe}}",
            "'maybe' is not one of reject, unknown, null",
        ),
        (
            "{wareki: {format: era_yymmdd, eras: a, blank: zero}}",
            "'zero' is not one of null, reject, unknown",
        ),
        ("{wareki_partial: {format: era_yymmdd, eras: a, partial: null}}", "partial"),
    ],
)
def test_policy_typos_are_definition_errors(tmp_path: Path, ops: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        load_mapping(_mapping(tmp_path, ido=ops))


def test_flag_0_with_no_birth_date_is_rejected_by_the_layouts_rule_in_both_validators(tmp_path: Path) -> None:
    # Issue #18 §3: the bundled 中間標準レイアウト carries the cross-item rule; nothing is hard-coded for 生年月日.
    from midlayout.mapping.compile import apply, compile_file
    from midlayout.pipeline.inputs import match_inputs
    from midlayout.pipeline.options import gaiji_options
    from midlayout.pipeline.plan import lookup_tables
    from midlayout.readers import read_batches
    from midlayout.validate import rules, schema

    flag = "seinengappi_fusho: {from: BIRTH, ops: [{wareki_unknown: {format: era_yymmdd, eras: a, blank: unknown}}]}"
    mapping = _mapping(
        tmp_path, birth="{wareki: {format: era_yymmdd, eras: a, blank: null, partial: unknown}}"
    )
    text = mapping.read_text(encoding="utf-8")
    assert flag in text
    mapping.write_text(text.replace(flag, flag.replace(", blank: unknown", "")), encoding="utf-8")
    people = [person(1, 1, 1, BIRTH=" " * 7), person(2, 2, 1)]
    result, jumin = _run(tmp_path, people, mapping)
    birth = result.rejects.filter(pl.col("rule") == "birth_date_if_known")
    assert birth.select("record", "item").rows() == [(1, "seinengappi")]
    assert jumin.height == 1
    # the pandera validator rejects the same row with the same rule id
    loaded = load_mapping(mapping)
    jobs = [
        j
        for j in match_inputs([loaded], [str(p) for p in (tmp_path / "in").iterdir()])
        if j.rule.target == "jumin"
    ]
    tables = lookup_tables(jobs, 10_000, gaiji_options([loaded], None, None))
    compiled = compile_file(jobs[0].mapping, jobs[0].rule)
    rows = pl.concat([b.rows for b in read_batches(jobs[0].source, jobs[0].path, 10_000)])
    mapped, _ = apply(compiled, rows, tables)
    assert mapped.filter(pl.col("seinengappi").is_null() & ~pl.col("seinengappi_fusho")).height == 1
    good, rejects = rules.validate_rows(loaded.target, compiled.target, mapped)
    ref_good, ref_rejects = schema.validate_with_pandera(loaded.target, compiled.target, mapped)
    assert rejects.equals(ref_rejects) and good.equals(ref_good)
    assert rejects.filter(pl.col("rule") == "birth_date_if_known").get_column("record").to_list() == [1]
