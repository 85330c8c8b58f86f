"""Secrets and personal values never reach a message; definitions name files only inside their own folder tree;
hostile YAML (alias bombs, deep nesting) and option values are usage errors, not crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.audit.diff import DiffOptions
from midlayout.cli import app
from midlayout.errors import UsageError
from tests.audit_data import jumin, set_value, write
from tests.conftest import MAPPINGS, SAMPLES

runner = CliRunner()
JUKI = "chukan/juki@2.5"
A_JUKI = MAPPINGS / "vendor_a" / "juki-2.5.yaml"
A_INPUTS = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT")]


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


# --- DSN secrets ------------------------------------------------------------------------------------------

SECRET_DSNS = [
    ("postgresql://postgres:S3cretPW@[::1/db", "S3cretPW", {}),
    ("host=127.0.0.1 port=1 password=my secretword connect_timeout=2", "secretword", {}),
    ("host=127.0.0.1 port=1 user=postgres connect_timeout=2", "S3cretEnvPW", {"PGPASSWORD": "S3cretEnvPW"}),
]


@pytest.mark.parametrize(("dsn", "secret", "env"), SECRET_DSNS, ids=["uri", "key-value", "pgpassword"])
def test_dsn_secret_never_in_stderr_or_job_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dsn: str, secret: str, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = cli(
        "convert", "-m", str(A_JUKI), *A_INPUTS, "--out", str(tmp_path / "o"), "-w", "postgres",
        "-O", f"postgres.dsn={dsn}",
    )  # fmt: skip
    assert code == 2 and "PostgreSQL" in err, err
    assert secret not in out + err and "secret" not in (out + err).lower().replace("secrets", "")
    monkeypatch.setenv("MIDLAYOUT_TEST_DSN", dsn)
    job = tmp_path / "job.yaml"
    entry = {"id": "a", "mappings": [str(A_JUKI)], "inputs": A_INPUTS}
    job.write_text(
        json.dumps(
            {
                "job": {"id": "secrets", "out": str(tmp_path / "job")},
                "entries": [
                    {**entry, "writers": {"postgres": {"dsn": dsn}}},
                    {**entry, "id": "b", "writers": {"postgres": {"dsn_env": "MIDLAYOUT_TEST_DSN"}}},
                ],
            }
        ),
        encoding="utf-8",
    )
    code, out, err = cli("run", str(job), "--keep-going")
    manifest = (tmp_path / "job" / "job-manifest.json").read_text(encoding="utf-8")
    assert code == 2 and json.loads(manifest)["entries"][0]["status"] == "failed", out + err
    for text in (out, err, manifest):
        assert secret not in text


# --- diff: key values of items outside the layout key -------------------------------------------------------


def test_diff_key_values_outside_the_layout_key_are_masked_in_json_and_html(tmp_path: Path) -> None:
    frame = jumin(range(1, 6))
    before = write(JUKI, "jumin", frame, tmp_path / "b")
    after = write(JUKI, "jumin", set_value(frame, 2, "jusho", "東京都千代田区変更町1番地"), tmp_path / "a")
    base = ["diff", str(before), str(after), "-l", JUKI, "--key", "shimei,seinengappi", "--json", "--html"]
    code, out, err = cli(*base, "--out", str(tmp_path / "m"))
    assert code == 1, err
    name, born = frame["shimei"][1], str(frame["seinengappi"][1])  # the row of id 2
    summary = json.loads(out)
    assert summary["samples"]["changes"][0]["shimei"] == "●●●"
    for text in (
        out,
        (tmp_path / "m" / "diff.html").read_text(encoding="utf-8"),
        (tmp_path / "m" / "diff-summary.json").read_text(encoding="utf-8"),
    ):
        assert name not in text and born not in text
    for detail in ("diff-changes.parquet", "diff-rows.parquet"):
        assert set(pl.read_parquet(tmp_path / "m" / detail)["shimei"]) == {"●●●"}
    code, out, _ = cli(*base, "--out", str(tmp_path / "s"), "--show-values")
    assert json.loads(out)["samples"]["changes"][0]["shimei"] == name
    assert name in (tmp_path / "s" / "diff.html").read_text(encoding="utf-8")
    # The layout's own key (宛名番号) is an identifier, not a personal value: shown as before.
    code, out, _ = cli("diff", str(before), str(after), "-l", JUKI, "--json")
    assert json.loads(out)["samples"]["changes"][0]["atena_no"] == frame["atena_no"][1]


# --- option values -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--memory-limit", "lots", "--memory-limit 'lots'"),
        ("--memory-limit", "0GB", "--memory-limit '0GB'"),
        ("--tolerance", "inf", "--tolerance: inf"),
        ("--tolerance", "nan", "--tolerance: nan"),
        ("--tolerance", "-1", "--tolerance: -1.0"),
    ],
)
def test_diff_bad_memory_limit_or_tolerance_is_exit_2(
    tmp_path: Path, option: str, value: str, needle: str
) -> None:
    frame = jumin(range(1, 4))
    before = write(JUKI, "jumin", frame, tmp_path / "b")
    code, _, err = cli("diff", str(before), str(before), "-l", JUKI, f"{option}={value}")
    assert_one_line(code, err, needle)


def test_options_validate_in_the_library() -> None:
    from midlayout.memlimit import parse_memory_limit

    assert parse_memory_limit("2gb") == "2GB" and parse_memory_limit(" 1.5 GiB ") == "1.5GiB"
    assert DiffOptions(memory_limit="512MB", tolerance=1).tolerance == 1.0
    for kwargs in ({"memory_limit": "lots"}, {"tolerance": float("inf")}, {"tolerance": -0.5}):
        with pytest.raises(UsageError):
            DiffOptions(**kwargs)  # type: ignore[arg-type]


def test_reconcile_bad_memory_limit_or_tolerance_is_exit_2(tmp_path: Path) -> None:
    before = write(JUKI, "jumin", jumin(range(1, 4)), tmp_path / "b")
    for args, needle in (
        (["--memory-limit", "lots"], "--memory-limit 'lots'"),
        (["--tolerance", "amount=inf"], "--tolerance amount: inf"),
    ):
        code, _, err = cli("reconcile", str(before), str(before), "-l", JUKI, *args)
        assert_one_line(code, err, needle)


# --- definitions name files inside their own folder tree ------------------------------------------------------


def _vendor_a_copy(tmp_path: Path) -> Path:
    maps = tmp_path / "defs" / "vendor_a"
    shutil.copytree(MAPPINGS / "vendor_a", maps)
    return maps / "juki-2.5.yaml"


def _line(path: Path, needle: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line
    )


@pytest.mark.parametrize(
    ("old", "new", "moved"),
    [
        ("codes/sex.yaml", "../secret/creds.yaml", "codes/sex.yaml"),
        ("source: source.yaml", "source: ../secret/source.yaml", "source.yaml"),
    ],
)
def test_a_mapping_cannot_name_a_file_outside_its_folder(
    tmp_path: Path, old: str, new: str, moved: str
) -> None:
    mapping = _vendor_a_copy(tmp_path)
    secret = tmp_path / "defs" / "secret"
    secret.mkdir()
    shutil.copy(mapping.parent / moved, secret / Path(new.split()[-1]).name)
    text = mapping.read_text(encoding="utf-8")
    assert old in text
    mapping.write_text(text.replace(old, new), encoding="utf-8")
    args = ["convert", "-m", str(mapping), *A_INPUTS, "--out", str(tmp_path / "o")]
    code, _, err = cli(*args)
    assert_one_line(code, err, f"{mapping}:{_line(mapping, '../secret/')}", "outside the folder")
    code, _, err = cli(*args, "--allow-outside-definitions")
    assert code == 1, err


def test_a_layout_cannot_name_a_code_table_outside_its_folder(tmp_path: Path) -> None:
    from tests.conftest import LAYOUTS

    folder = tmp_path / "layouts" / "mine" / "juki"
    shutil.copytree(LAYOUTS / "chukan" / "juki", folder)
    shutil.move(folder / "codes" / "seibetsu.yaml", tmp_path / "seibetsu.yaml")
    layout = folder / "2.5.yaml"
    layout.write_text(
        layout.read_text(encoding="utf-8")
        .replace("codes/seibetsu.yaml", "../../../seibetsu.yaml")
        .replace("family: chukan", "family: mine"),
        encoding="utf-8",
    )
    dirs = ["--layouts-dir", str(tmp_path / "layouts")]
    code, _, err = cli("layouts", "show", "mine/juki@2.5", *dirs)
    assert_one_line(code, err, f"{layout}:{_line(layout, '../../../seibetsu.yaml')}", "outside the folder")
    code, _, err = cli("layouts", "show", "mine/juki@2.5", *dirs, "--allow-outside-definitions")
    assert code == 0, err


# --- hostile YAML ---------------------------------------------------------------------------------------------


def test_yaml_alias_bomb_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    mapping = _vendor_a_copy(tmp_path)
    bomb = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 8)]
    text = mapping.read_text(encoding="utf-8") + "\n".join(bomb) + "\n"
    mapping.write_text(text, encoding="utf-8")
    assert len(text.encode()) < 2600  # the mapping (with its date policies) and the bomb: a small file
    code, _, err = cli("convert", "-m", str(mapping), *A_INPUTS, "--out", str(tmp_path / "o"))
    assert_one_line(code, err, f"{mapping}:", "alias")
    line = int(err.split(f"{mapping}:")[1].split(":")[0])
    assert text.splitlines()[line - 1].startswith("lol"), err


def test_yaml_nested_500_deep_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    mapping = tmp_path / "deep.yaml"
    mapping.write_text("mapping:\n  note: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    code, _, err = cli("convert", "-m", str(mapping), *A_INPUTS, "--out", str(tmp_path / "o"))
    assert_one_line(code, err, f"{mapping}:2", "nested deeper")
