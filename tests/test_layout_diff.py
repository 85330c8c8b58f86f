"""`layouts diff` between layout versions and `mapping check` of a mapping against another version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from midlayout.cli.app import app
from midlayout.layout.layoutdiff import diff_layouts
from midlayout.layout.mappingcheck import check_mapping
from midlayout.layout.registry import resolve
from tests.conftest import MAPPINGS

runner = CliRunner()
LAYOUTS = Path(__file__).resolve().parents[1] / "layouts"


def test_juki_2_4_to_2_5_lists_kyushi_jusho_and_reiwa() -> None:
    res = runner.invoke(
        app, ["layouts", "diff", "chukan/juki@2.4", "chukan/juki@2.5", "--layouts-dir", str(LAYOUTS)]
    )
    assert res.exit_code == 1
    out = res.stdout
    assert "+ item kyushi 旧氏" in out and "+ item kyushi_kana 旧氏カナ" in out
    assert "~ item jusho 住所: length 100 → 120" in out
    assert "+ 05 令和" in out


def test_diff_json_is_the_library_result() -> None:
    args = ["layouts", "diff", "chukan/juki@2.4", "chukan/juki@2.5", "--layouts-dir", str(LAYOUTS), "--json"]
    res = runner.invoke(app, args)
    expected = diff_layouts(
        resolve("chukan/juki@2.4", LAYOUTS), resolve("chukan/juki@2.5", LAYOUTS)
    ).as_dict()
    assert json.loads(res.stdout) == json.loads(json.dumps(expected))
    jumin = next(f for f in expected["files"] if f["id"] == "jumin")
    assert {i["id"] for i in jumin["items"] if i["change"] == "added"} == {"kyushi", "kyushi_kana"}


def test_a_layout_is_the_same_as_itself() -> None:
    res = runner.invoke(
        app, ["layouts", "diff", "chukan/juki@2.5", "chukan/juki@2.5", "--layouts-dir", str(LAYOUTS)]
    )
    assert res.exit_code == 0


def _mapping_for_2_4(tmp_path: Path) -> Path:
    """The A社 juki mapping as it would have been written for V2.4 (no 旧氏)."""
    folder = tmp_path / "vendor_a"
    shutil.copytree(MAPPINGS / "vendor_a", folder)
    path = folder / "juki-2.4.yaml"
    text = (folder / "juki-2.5.yaml").read_text(encoding="utf-8")
    text = text.replace("target: chukan/juki@2.5", "target: chukan/juki@2.4")
    text = text.replace("      kyushi: {from: KYUSHI, ops: [trim]}\n", "")
    text = text.replace("    leave_empty: [kyushi_kana]\n", "")
    path.write_text(text, encoding="utf-8")
    return path


def test_mapping_check_is_a_checklist_for_moving_to_2_5(tmp_path: Path) -> None:
    path = _mapping_for_2_4(tmp_path)
    result = check_mapping(path, "chukan/juki@2.5", LAYOUTS)
    assert not result.ok
    unmapped = {f["item"] for f in result.findings if "unmapped" in f["message"]}
    assert unmapped == {"kyushi", "kyushi_kana"}
    assert all(f["line"] for f in result.findings)
    res = runner.invoke(
        app,
        [
            "mapping",
            "check",
            str(path),
            "--layout",
            "chukan/juki@2.5",
            "--layouts-dir",
            str(LAYOUTS),
            "--json",
        ],
    )
    assert res.exit_code == 1 and json.loads(res.stdout) == json.loads(json.dumps(result.as_dict()))


def test_mapping_check_finds_codes_the_new_table_lacks(tmp_path: Path) -> None:
    """A copy of the 住基 layouts as family `test`, whose V2.5 性別 table lacks a code the V2.4 mapping writes."""
    path = _mapping_for_2_4(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace("chukan/juki@2.4", "test/juki@2.4"), encoding="utf-8"
    )
    sex = path.parent / "codes" / "sex.yaml"
    sex.write_text(sex.read_text(encoding="utf-8").replace('F: "2"}', 'F: "2", X: "9"}'), encoding="utf-8")
    folder = tmp_path / "layouts" / "test" / "juki"
    shutil.copytree(LAYOUTS / "chukan" / "juki", folder)
    for version in ("2.4", "2.5"):
        lay = folder / f"{version}.yaml"
        lay.write_text(
            lay.read_text(encoding="utf-8").replace("family: chukan", "family: test"), encoding="utf-8"
        )
    table = folder / "codes" / "seibetsu.yaml"
    (folder / "codes" / "seibetsu-2.5.yaml").write_text(table.read_text(encoding="utf-8"), encoding="utf-8")
    table.write_text(table.read_text(encoding="utf-8") + '  "9": 適用除外\n', encoding="utf-8")  # V2.4 has 9
    v25 = folder / "2.5.yaml"
    v25.write_text(
        v25.read_text(encoding="utf-8").replace(
            "seibetsu: codes/seibetsu.yaml", "seibetsu: codes/seibetsu-2.5.yaml"
        ),
        encoding="utf-8",
    )
    result = check_mapping(path, "test/juki@2.5", tmp_path / "layouts")
    codes = [f for f in result.findings if f.get("item") == "seibetsu"]
    assert len(codes) == 1 and "writes 9" in codes[0]["message"]


def test_a_mapping_checked_against_its_own_layout_is_clean() -> None:
    result = check_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml", "chukan/juki@2.5", LAYOUTS)
    assert result.ok and [f["severity"] for f in result.findings] == []
