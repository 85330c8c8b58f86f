"""The CLI: exit codes, one-line errors without tracebacks, --json equal to what the library wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.builders import household, person, write_vendor_a
from tests.conftest import MAPPINGS

JUKI = str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def inputs(tmp_path: Path, extra_people: list | None = None) -> list[str]:
    people = [person(1, 100, 1, "01"), person(2, 100, 2, "02", SEX="F")] + (extra_people or [])
    return [str(p) for p in write_vendor_a(tmp_path / "in", people, [household(100, 1)])]


def assert_one_line_error(code: int, err: str, expected_code: int, *needles: str) -> None:
    assert code == expected_code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_convert_clean_exits_0_and_json_equals_manifest(tmp_path: Path) -> None:
    code, out, _ = invoke("convert", "-m", JUKI, *inputs(tmp_path), "--out", str(tmp_path / "o"), "--json")
    assert code == 0
    on_disk = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    printed = json.loads(out)
    assert printed["inputs"] == on_disk["inputs"] and printed["outputs"] == on_disk["outputs"]


def test_convert_with_rejects_exits_1_and_summary_shows_no_personal_values(tmp_path: Path) -> None:
    bad = [person(3, 100, 3, "04", SEX="X", NAME_KANJI="秘密\u3000花子")]
    code, out, _ = invoke("convert", "-m", JUKI, *inputs(tmp_path, bad), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "code_unmapped" in out and "秘密" not in out


def test_layouts_list_and_show_json(tmp_path: Path) -> None:
    code, out, _ = invoke("layouts", "list", "--json")
    assert code == 0 and "chukan/juki@2.4" in {r["ref"] for r in json.loads(out)}
    code, out, _ = invoke("layouts", "show", "chukan/juki@2.5", "--json")
    data = json.loads(out)
    assert code == 0 and data["files"][1]["items"][0]["name"] == "宛名番号"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("layouts", "show", "chukan/juki@9.9"), ("unknown layout",)),
        (("convert", "-m", JUKI, "missing/JUMIN.DAT", "--out", "o"), ("missing/JUMIN.DAT", "not found")),
        (("convert", "-m", "nope.yaml", "x", "--out", "o"), ("nope.yaml", "file not found")),
        (("validate", "--layout", "chukan/juki@2.5", "missing.csv"), ("not found",)),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    assert_one_line_error(*invoke(*args)[::2], 2, *needles)


def test_malformed_mapping_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text(
        "mapping:\n  id: x\n  version: '1'\n  source: s.yaml\n  target: chukan/juki@2.5\nfiles: {}\n  oops\n",
        encoding="utf-8",
    )
    code, _, err = invoke("convert", "-m", str(bad), "x", "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, 2, f"{bad}:", "not valid YAML")


def test_truncated_record_names_record_and_byte_and_leaves_no_outputs(tmp_path: Path) -> None:
    paths = inputs(tmp_path)
    Path(paths[1]).write_bytes(Path(paths[1]).read_bytes()[:-7])
    code, _, err = invoke("convert", "-m", JUKI, *paths, "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, 2, "SETAI.DAT", "record 1", "byte 0", "truncated")
    left = [p.name for p in (tmp_path / "o").rglob("*") if p.is_file()]
    assert left == []


def test_record_length_mismatch_is_exit_2(tmp_path: Path) -> None:
    paths = inputs(tmp_path)
    data = Path(paths[0]).read_bytes()
    Path(paths[0]).write_bytes(data[:100] + data[101:] + b" ")
    code, _, err = invoke("convert", "-m", JUKI, *paths, "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, 2, "JUMIN.DAT", "record 1", "byte 300", "record length mismatch")


def test_input_matching_no_source_file_is_exit_2(tmp_path: Path) -> None:
    stray = tmp_path / "OTHER.TXT"
    stray.write_bytes(b"x")
    code, _, err = invoke("convert", "-m", JUKI, *inputs(tmp_path), str(stray), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, 2, "OTHER.TXT", "matches no source file")


def test_internal_error_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from midlayout.validate.crossfile import KeyCollector

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(KeyCollector, "finish", boom)
    code, _, err = invoke("convert", "-m", JUKI, *inputs(tmp_path), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, 3, "internal error", "simulated bug")
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_validate_a_delivery_finds_each_rule(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert invoke("convert", "-m", JUKI, *inputs(tmp_path), "--out", str(out))[0] == 0
    std = out / "standard" / "juki"
    code, text, _ = invoke(
        "validate", "--layout", "chukan/juki@2.5", str(std / "jumin.csv"), str(std / "setai.csv"), "--json"
    )
    assert code == 0 and json.loads(text)["status"] == "ok"
    lines = (std / "jumin.csv").read_bytes().decode("cp932").splitlines()
    broken = (
        "\r\n".join([lines[0], lines[1], lines[2].replace('"12"', '"77"'), lines[1]]) + "\r\n"
    )  # bad code; dup key
    bad = tmp_path / "jumin.csv"
    bad.write_bytes(broken.encode("cp932"))
    code, text, _ = invoke(
        "validate", "--layout", "chukan/juki@2.5", str(bad), str(std / "setai.csv"), "--json"
    )
    rules = {r["rule"] for r in json.loads(text)["rejects"]["by_rule"]}
    assert code == 1 and {"code_domain", "key_unique"} <= rules


def test_synth_writes_the_library_bytes_and_cp932_variant_converts(tmp_path: Path) -> None:
    from midlayout.synth import generate_vendor_b

    code, out, _ = invoke(
        "synth",
        "--vendor",
        "b",
        "--households",
        "40",
        "--seed",
        "5",
        "--encoding",
        "cp932",
        "--out",
        str(tmp_path / "cli"),
        "--json",
    )
    assert code == 0
    files = json.loads(out)["files"]
    lib = generate_vendor_b(tmp_path / "lib", 40, 5, encoding="cp932")
    for fid, path in lib.items():
        assert Path(files[fid]["path"]).read_bytes() == path.read_bytes()
    utf8 = generate_vendor_b(tmp_path / "utf8", 40, 5)
    assert lib["person"].read_bytes().decode("cp932") == utf8["person"].read_bytes().decode("utf-8-sig")
    cp932 = str(MAPPINGS / "vendor_b" / "juki-2.5-cp932.yaml")
    code, _, err = invoke(
        "convert", "-m", cp932, *map(str, lib.values()), "--out", str(tmp_path / "o"), "-w", "parquet"
    )
    assert code == 0, err


def test_synth_usage_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("synth", "--vendor", "c", "--households", "3", "--out", str(tmp_path))
    assert_one_line_error(code, err, 2, "--vendor")
    code, _, err = invoke("synth", "--vendor", "a", "--households", "5", "--traps", "--out", str(tmp_path))
    assert_one_line_error(code, err, 2, "traps need at least")


def test_layouts_show_prints_code_values_in_text_output() -> None:
    code, out, _ = invoke("layouts", "show", "chukan/juki@2.5")
    assert code == 0
    assert "code table zokugara 続柄" in out and "世帯主" in out and "令和" in out
