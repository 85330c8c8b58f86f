"""Layouts, code tables, source layouts and mappings load strictly, with errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from midlayout.errors import DefinitionError, UsageError
from midlayout.layout.mapping import load_mapping
from midlayout.layout.registry import list_layouts, resolve
from midlayout.layout.source import load_source
from midlayout.layout.standard import load_layout
from tests.conftest import LAYOUTS, MAPPINGS, ROOT

JUKI_25 = LAYOUTS / "chukan" / "juki" / "2.5.yaml"


def test_bundled_layouts_list_both_gyomu_and_two_versions() -> None:
    refs = {e.ref for e in list_layouts(LAYOUTS)}
    assert {"chukan/juki@2.4", "chukan/juki@2.5", "chukan/kojin_juminzei@2.5"} <= refs


def test_versions_differ_in_items_widths_and_codes() -> None:
    v24, v25 = resolve("chukan/juki@2.4", LAYOUTS), resolve("chukan/juki@V2.5", LAYOUTS)
    assert "kyushi" in v25.file("jumin").item_ids and "kyushi" not in v24.file("jumin").item_ids
    assert v24.file("jumin").item("jusho").length == 100 and v25.file("jumin").item("jusho").length == 120
    assert "05" in v25.code_tables["nengo"].codes and "05" not in v24.code_tables["nengo"].codes


def test_item_attributes_are_modelled() -> None:
    lay = resolve("chukan/juki@2.5", LAYOUTS)
    jumin = lay.file("jumin")
    assert jumin.key == ("atena_no",)
    setai_no = jumin.item("setai_no")
    assert (setai_no.type, setai_no.length, setai_no.unit, setai_no.required) == (
        "string",
        15,
        "digits",
        True,
    )
    assert setai_no.references is not None and setai_no.references.file == "setai"
    assert jumin.item("shimei").unit == "bytes"
    assert jumin.item("zokugara").code_table == "zokugara"
    assert lay.code_tables["zokugara"].codes["02"] == "世帯主"
    assert lay.file("setai").checks[0].value == "02"


def test_unknown_version_lists_known_ones() -> None:
    with pytest.raises(UsageError, match=r"known: .*chukan/juki@2\.5"):
        resolve("chukan/juki@9.9", LAYOUTS)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = JUKI_25.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "codes").symlink_to(JUKI_25.parent / "codes")
    path = tmp_path / "2.5.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line
    )


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "type: string, digits: 15, required: true}",
            "type: strng, digits: 15, required: true}",
            "strng",
            "not one of",
        ),
        ("name: 氏名, type: string, bytes: 60", "name: 氏名, type: string", "name: 氏名,", "exactly one of"),
        ("code_table: zokugara, required", "code_table: zokgara, required", "zokgara", "unknown code table"),
        ("references: setai.setai_no", "references: setai.nothing", "setai.nothing", "unknown FILE.ITEM"),
        (
            "{id: katagaki, name: 方書, type: string, bytes: 60}",
            "{id: katagaki, name: 方書, type: string, bytes: 60, colour: red}",
            "colour",
            "unknown key",
        ),
    ],
)
def test_bad_layout_names_file_line_and_problem(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(DefinitionError, match=message) as info:
        load_layout(path)
    assert info.value.location.file == str(path)
    assert info.value.location.line == _line_of(path, needle)
    assert f"{path}:{info.value.location.line}" in str(info.value)


def test_invalid_yaml_syntax_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("family: chukan\nfiles: [\n  - a: b\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="not valid YAML") as info:
        load_layout(path)
    assert info.value.location.line is not None


def test_source_layout_rejects_overlapping_and_overlong_fields(tmp_path: Path) -> None:
    text = (MAPPINGS / "vendor_a" / "source.yaml").read_text(encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(
        text.replace("{id: SETAI_NO, start: 11, length: 10}", "{id: SETAI_NO, start: 10, length: 10}", 1),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match="overlap"):
        load_source(path)
    path.write_text(
        text.replace(
            "{id: FILLER, start: 282, length: 19, type: filler}",
            "{id: FILLER, start: 282, length: 20, type: filler}",
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match="past the record length"):
        load_source(path)


def _mapping_copy(tmp_path: Path, old: str, new: str) -> Path:
    src = MAPPINGS / "vendor_a"
    for name in ("source.yaml",):
        (tmp_path / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "codes").symlink_to(src / "codes")
    text = (src / "juki-2.5.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "m.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{code: sex}", "{code: sexx}", "unknown code map"),
        ("ops: [trim, zenkaku_kana]", "ops: [trim, eval]", "unknown op 'eval'"),
        (
            "ops: [trim, zenkaku_kana]",
            "ops: [trim, {zenkaku_kana: x}]",
            "op 'zenkaku_kana' takes no argument",
        ),
        ("{from: SEX, ops: [{code: sex}]}", "{from: SEX, ops: [code]}", "op 'code' needs an argument"),
        ("{from: KATAGAKI, ops: [trim]}", "{from: KATAGAK, ops: [trim]}", "not a field of the source file"),
        ("      katagaki: {from: KATAGAKI, ops: [trim]}\n", "", "not mapped"),
        ("{from: SEX, ops: [{code: sex}]}", '{from: SEX, const: "1"}', "exactly one of"),
        ("target: chukan/juki@2.5", "target: chukan/juki@3.0", "unknown layout"),
    ],
)
def test_bad_mapping_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises((DefinitionError, UsageError), match=message):
        load_mapping(_mapping_copy(tmp_path, old, new))


def test_code_map_must_target_real_codes(tmp_path: Path) -> None:
    path = _mapping_copy(tmp_path, "sex: codes/sex.yaml", "sex: bad-sex.yaml")
    (tmp_path / "bad-sex.yaml").write_text(
        'id: s\ntarget_table: seibetsu\nmap: {M: "1", F: "3"}\n', encoding="utf-8"
    )
    with pytest.raises(DefinitionError, match="'3' is not a code of 性別") as info:
        load_mapping(path)
    assert info.value.location.line == 3


def test_bundled_mappings_load() -> None:
    for rel in ("vendor_a/juki-2.5.yaml", "vendor_a/kojin_juminzei-2.5.yaml", "vendor_b/juki-2.5.yaml"):
        m = load_mapping(MAPPINGS / rel)
        assert m.version and m.target.ref.endswith("@2.5")


def test_leave_empty_on_a_required_item_is_a_load_error_naming_the_line(tmp_path: Path) -> None:
    path = _mapping_copy(
        tmp_path,
        "      shimei: {from: NAME_KANJI, ops: [trim]}\n",
        "",
    )
    text = path.read_text(encoding="utf-8").replace(
        "leave_empty: [kyushi_kana]", "leave_empty: [kyushi_kana, shimei]"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"shimei \(氏名\) is required in chukan/juki@2.5") as info:
        load_mapping(path)
    assert info.value.location.line == _line_of(path, "leave_empty: [kyushi_kana, shimei]")
    path.write_text(text.replace("kyushi_kana, shimei", "kyushi_kana, shimei_x"), encoding="utf-8")
    with pytest.raises(DefinitionError, match="has no item 'shimei_x'"):
        load_mapping(path)


def test_every_op_has_one_entry_with_a_parser_and_an_implementation() -> None:
    """layout/ops.py is the one table: each op's implementation loads, and an op that takes an argument
    cannot be declared without its parser (before, such an op parsed its argument as `trim`'s)."""
    from midlayout.layout.ops import OP_SPECS, OpSpec

    assert all(callable(spec.load()) for spec in OP_SPECS.values())
    with pytest.raises(TypeError, match="names no parser"):
        OpSpec("pad")


def test_loading_definitions_imports_no_engine() -> None:
    """Layouts, mappings and job files load without importing writers, mapping engines or the pipeline."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from midlayout.layout.job import load_job; "
        "from midlayout.layout.mapping import load_mapping; "
        f"load_mapping(Path({str(MAPPINGS / 'vendor_a' / 'juki-2.5.yaml')!r})); "
        f"load_job(Path({str(ROOT / 'jobs' / 'demo-postgres.yaml')!r}), lambda name: {{'mode', 'meta_schema', 'schema_prefix'}}); "
        "bad = [m for m in sys.modules if m.startswith(('midlayout.writers', 'midlayout.mapping', "
        "'midlayout.pipeline', 'midlayout.readers', 'midlayout.validate'))]; assert not bad, bad"
    )
    env = {**os.environ, "MIDLAYOUT_LAYOUTS": str(LAYOUTS)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "{id: katagaki, name: 方書,",
            '{id: katagaki, name: "方\\n書",',
            "id: katagaki",
        ),  # breaks a CSV header line
        ("{id: katagaki, name: 方書,", '{id: katagaki, name: "方書\\r",', "id: katagaki"),
        ("{id: katagaki, name: 方書,", '{id: katagaki, name: "方\\t書",', "id: katagaki"),
        ("{id: katagaki, name: 方書,", '{id: katagaki, name: "方\\u2028書",', "id: katagaki"),
        (
            "gyomu_name: 住民基本台帳",
            'gyomu_name: "住民\\x1b[31m基本台帳"',
            "gyomu_name:",
        ),  # a terminal escape
    ],
)
def test_a_name_with_a_line_break_or_control_character_is_a_load_error_at_its_line(
    tmp_path: Path, old: str, new: str, needle: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(DefinitionError, match="line break or control character") as info:
        load_layout(path)
    assert info.value.location.line == _line_of(path, needle)


def test_the_standard_csv_header_reads_back_as_the_item_names(tmp_path: Path) -> None:
    """Names with a comma, a quote and spaces: the header the writer writes is the one audit reads."""
    from midlayout.audit.inputs import _csv_header
    from midlayout.writers.standard import StandardCsvWriter

    path = _broken(tmp_path, "{id: katagaki, name: 方書,", '{id: katagaki, name: "方書, \\"棟\\" 号 ",')
    layout = load_layout(path)
    file = layout.file("jumin")
    header = tmp_path / "jumin.csv"
    header.write_bytes(StandardCsvWriter(tmp_path / "o").header(layout, file) + b'"x"\r\n')
    assert _csv_header(header, layout.encoding) == [it.name for it in file.items]
    assert '方書, "棟" 号 ' in _csv_header(header, layout.encoding)
