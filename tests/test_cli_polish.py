"""What a newcomer meets at the terminal: --help with choices, job typos, errors in JSON and on stderr, Japanese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import MAPPINGS, SAMPLES

runner = CliRunner()
B = [str(SAMPLES / "vendor_b" / "person.csv"), str(SAMPLES / "vendor_b" / "household.csv")]


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (["convert"], ["reject|flag"]),
        (["synth"], ["a|b|host"]),
        (["diff"], ["parquet|csv"]),
        (["run"], []),
        (["verify"], []),
        (["layouts", "show"], []),
    ],
)
def test_help_shows_choices_and_no_bool_placeholders(command: list[str], choices: list[str]) -> None:
    res = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for choice in choices:
        assert choice in res.stdout, (command, choice)
    flags_shown_as_bool = [x for x in res.stdout.splitlines() if "<bool>" in x and "--help" not in x]
    assert not flags_shown_as_bool, (command, flags_shown_as_bool)  # (typer's own --help row keeps it)


def _job(tmp_path: Path, entry: str) -> Path:
    job = tmp_path / "job.yaml"
    job.write_text(f"job: {{id: j, out: out}}\nentries:\n  - {entry}\n", encoding="utf-8")
    return job


def test_a_job_key_typo_names_the_typo_and_the_nearest_key(tmp_path: Path) -> None:
    job = _job(tmp_path, f"{{id: a, mapings: [{MAPPINGS / 'vendor_b' / 'juki-2.5.yaml'}], inputs: [{B[0]}]}}")
    res = runner.invoke(app, ["run", str(job)])
    assert res.exit_code == 2
    assert "unknown key 'mapings' (did you mean 'mappings'?" in res.stderr, res.stderr
    job.write_text(
        "job: {id: j, out: out}\n"
        "entries:\n"
        f"  - id: a\n    mappings: [{MAPPINGS / 'vendor_b' / 'juki-2.5.yaml'}]\n    inputs: [{B[0]}]\n"
        "    writerz: {parquet: {}}\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["run", str(job)])
    assert res.exit_code == 2 and "job.yaml:6" in res.stderr
    assert "unknown key 'writerz' (did you mean 'writers'?" in res.stderr


def test_an_entry_with_no_writers_uses_converts_defaults_and_a_failed_entry_errs_on_stderr(
    tmp_path: Path,
) -> None:
    mapping = MAPPINGS / "vendor_b" / "juki-2.5.yaml"
    job = tmp_path / "job.yaml"
    job.write_text(
        "job: {id: j, out: out, on_error: continue}\n"
        "entries:\n"
        f"  - {{id: good, mappings: [{mapping}], inputs: [{B[0]}, {B[1]}]}}\n"
        f"  - {{id: bad, mappings: [{mapping}], inputs: [{tmp_path / 'nowhere.csv'}]}}\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["run", str(job)])
    assert res.exit_code == 2, res.stderr
    good = tmp_path / "out" / "good"
    assert (good / "parquet" / "juki" / "jumin.parquet").is_file()
    assert (good / "midlayout.duckdb").is_file() and (good / "standard" / "juki" / "jumin.csv").is_file()
    assert "nowhere.csv" not in res.stdout
    line = next(x for x in res.stderr.splitlines() if "nowhere.csv" in x)
    assert line.startswith("error: bad: ") and "input file not found" in line


def test_a_warning_stays_on_one_line_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "convert",
            "-m",
            str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"),
            str(SAMPLES / "vendor_a" / "ZEI.DAT"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code in (0, 1), res.stderr
    warnings = [x for x in res.stderr.splitlines() if x.strip()]
    assert warnings and all(x.startswith("warning: reference not checked") for x in warnings), warnings
    assert all("chukan/juki" in x for x in warnings)


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "nowhere/manifest.json", "--json"],
        ["convert", "-m", "nowhere.yaml", "x.csv", "--out", "o", "--json"],
        ["layouts", "show", "chukan/nothing@1", "--json"],
        ["run", "nowhere.yaml", "--json"],
        ["diff", "a.csv", "b.csv", "-l", "chukan/juki@2.5", "--json"],
        ["synth", "--vendor", "c", "--households", "1", "--out", "o", "--json"],
    ],
)
def test_every_json_error_is_a_json_object_on_stdout_and_a_line_on_stderr(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    error = json.loads(res.stdout)["error"]
    assert error["exit_code"] == 2 and error["message"] and error["kind"]
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and error["message"] in lines[0]


def test_japanese_terminal_messages_with_midlayout_lang_ja_and_english_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDLAYOUT_LANG", "ja")
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["convert", "-m", str(MAPPINGS / "vendor_b" / "juki-2.5.yaml"), *B, "--out", str(out)]
    )
    assert res.exit_code == 1
    assert "読込" in res.stdout and "規則別のリジェクト" in res.stdout and "マニフェスト:" in res.stdout
    assert "code_unmapped" in res.stdout  # rule ids stay English
    manifest = (out / "manifest.json").read_text(encoding="utf-8")
    assert "読込" not in manifest and "マニフェスト" not in manifest
    import polars as pl

    messages = pl.read_parquet(out / "rejects.parquet").get_column("message").to_list()
    assert messages and not any("リジェクト" in m for m in messages)
    verify = runner.invoke(app, ["verify", str(out / "manifest.json")])
    assert "27 ファイル中 27 が一致" in verify.stdout
    err = runner.invoke(app, ["convert", "-m", "nowhere.yaml", "x.csv", "--out", str(tmp_path / "p")])
    assert err.exit_code == 2 and err.stderr.startswith("エラー:")
    monkeypatch.delenv("MIDLAYOUT_LANG")
    again = runner.invoke(app, ["verify", str(out / "manifest.json")])
    assert "27 of 27 files match" in again.stdout  # no locale sniffing: English unless asked


@pytest.mark.parametrize(
    "args", [["verify", "--json"], ["convert", "--json", "x.csv"], ["diff", "--json", "--bogus", "a", "b"]]
)
def test_a_usage_error_under_json_is_a_json_object_too(args: list[str]) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    error = json.loads(res.stdout)["error"]
    assert error["kind"] == "usage" and error["message"]
    assert res.stderr.startswith("error: ")
