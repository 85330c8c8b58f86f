"""Control characters in text items (C0, DEL, C1): a reject unless the mapping allows a named set for the item."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from midlayout.errors import DefinitionError
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline.convert import convert, run_id
from midlayout.pipeline.options import ConvertOptions
from midlayout.synth import generate_vendor_b
from tests.builders import household, person, write_vendor_a
from tests.conftest import MAPPINGS

JUKI_A = MAPPINGS / "vendor_a" / "juki-2.5.yaml"


def test_tab_nul_and_cp932_0x80_in_a_fixed_width_address_are_rejected_with_code_and_byte(
    tmp_path: Path,
) -> None:
    people = [
        person(1, 1, 1, ADDR2="１番\t２号"),  # TAB inside the 番地
        person(2, 2, 1, KATAGAKI=b"\x80\x82\xa0"),  # CP932 0x80 decodes to U+0080 (C1), then あ
        person(3, 3, 1, ADDR1="東京都\x00千代田区"),
        person(4, 4, 1),
    ]
    paths = write_vendor_a(tmp_path / "in", people, [household(s, s) for s in (1, 2, 3, 4)])
    result = convert(
        [load_mapping(JUKI_A)], [str(p) for p in paths], tmp_path / "out", ConvertOptions(("parquet",))
    )
    rejects = result.rejects.filter(pl.col("rule") == "control_char").sort("record")
    assert rejects.select("record", "item", "message").rows() == [
        (1, "jusho", "住所: control character U+0009 (TAB) at char 13, byte 24 in cp932"),
        (2, "katagaki", "方書: control character U+0080 at char 1, byte 0 in cp932"),
        (3, "jusho", "住所: control character U+0000 (NUL) at char 4, byte 6 in cp932"),
    ]
    assert "番" not in "".join(rejects.get_column("message"))  # codes and places, never the value


def test_vendor_b_multi_line_katagaki_is_allowed_and_recorded_in_the_manifest(tmp_path: Path) -> None:
    paths = generate_vendor_b(tmp_path / "b", 4, 1, workers=1)
    mapping = load_mapping(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
    result = convert(
        [mapping], [str(p) for p in paths.values()], tmp_path / "out", ConvertOptions(("parquet",))
    )
    assert result.rejects.filter(pl.col("rule") == "control_char").height == 0
    people = pl.read_parquet(next((tmp_path / "out" / "parquet").rglob("jumin*.parquet")))
    assert people.get_column("katagaki").str.contains("\n").any()  # the 方書 on two lines went through
    assert result.manifest.options["allow_control"] == {"vendor_b-juki:jumin.katagaki": ["lf"]}


def test_the_allowance_is_part_of_the_run_identity(tmp_path: Path) -> None:
    copy = tmp_path / "vendor_b"
    shutil.copytree(MAPPINGS / "vendor_b", copy)
    text = (copy / "juki-2.5.yaml").read_text(encoding="utf-8")
    (copy / "juki-2.5.yaml").write_text(
        text.replace("allow_control: [lf]", "allow_control: [lf, cr]"), "utf-8"
    )
    paths = [str(p) for p in generate_vendor_b(tmp_path / "b", 2, 1, workers=1).values()]
    a = convert(
        [load_mapping(MAPPINGS / "vendor_b" / "juki-2.5.yaml")],
        paths,
        tmp_path / "o1",
        ConvertOptions(("parquet",)),
    )
    b = convert([load_mapping(copy / "juki-2.5.yaml")], paths, tmp_path / "o2", ConvertOptions(("parquet",)))
    assert b.manifest.options["allow_control"] == {"vendor_b-juki:jumin.katagaki": ["cr", "lf"]}
    assert run_id(a.manifest) != run_id(b.manifest)


def test_an_unknown_control_name_is_a_definition_error_at_its_line(tmp_path: Path) -> None:
    copy = tmp_path / "vendor_b"
    shutil.copytree(MAPPINGS / "vendor_b", copy)
    text = (copy / "juki-2.5.yaml").read_text(encoding="utf-8")
    (copy / "juki-2.5.yaml").write_text(
        text.replace("allow_control: [lf]", "allow_control: [newline]"), "utf-8"
    )
    with pytest.raises(DefinitionError, match="'newline' is not one of tab, lf, cr") as info:
        load_mapping(copy / "juki-2.5.yaml")
    assert info.value.location.line == 40
