"""Run integrity: one identity per run over every definition, one output set per folder, owner-only files."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline import convert as convert_module
from tests.conftest import LAYOUTS, MAPPINGS, ROOT
from tests.synth import vendor_a

SEX_SWAPPED = 'id: vendor_a_sex\nname: A社性別 → 性別\ntarget_table: seibetsu\nmap: {M: "2", F: "1"}\n'


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _run_id(manifest: dict[str, Any]) -> str:
    """The run identity (`load_id` in manifests before run identities)."""
    return str(manifest.get("run_id") or manifest["load_id"])


def _plan(mapping: Path, inputs: list[str]) -> str:
    plan = getattr(convert_module, "plan_run_id", None) or convert_module.plan_load_id
    return str(plan([load_mapping(mapping)], inputs))


@pytest.fixture
def defs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of vendor A's definitions and of the 住民 layout (as chukan/juki@9.9, so that it is not
    the bundled one; MIDLAYOUT_LAYOUTS points at it), with a 外字 table named by the 住民 mapping; returns
    the copy's root."""
    root = tmp_path / "defs"
    shutil.copytree(MAPPINGS / "vendor_a", root / "vendor_a")
    layout = root / "layouts" / "chukan" / "juki"
    shutil.copytree(LAYOUTS / "chukan" / "juki" / "codes", layout / "codes")
    text = (LAYOUTS / "chukan" / "juki" / "2.5.yaml").read_text(encoding="utf-8")
    (layout / "9.9.yaml").write_text(text.replace('version: "2.5"', 'version: "9.9"'), encoding="utf-8")
    (root / "vendor_a" / "gaiji.csv").write_text("code,replacement,mj,note\nF040,髙,,\n", encoding="utf-8")
    juki = root / "vendor_a" / "juki-2.5.yaml"
    text = juki.read_text(encoding="utf-8").replace("target: chukan/juki@2.5", "target: chukan/juki@9.9")
    juki.write_text(text + "gaiji:\n  table: gaiji.csv\n", encoding="utf-8")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(root / "layouts"))
    return root


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    return [str(p) for p in vendor_a(tmp_path / "in", 4, 3)][:2]


def _append(path: Path, text: str = "\n# edited\n") -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


EDITS = {
    "layout": lambda r: _append(r / "layouts" / "chukan" / "juki" / "9.9.yaml"),
    "code_table": lambda r: _append(r / "layouts" / "chukan" / "juki" / "codes" / "seibetsu.yaml"),
    "mapping": lambda r: _append(r / "vendor_a" / "juki-2.5.yaml"),
    "source_layout": lambda r: _append(r / "vendor_a" / "source.yaml"),
    "code_map": lambda r: (r / "vendor_a" / "codes" / "sex.yaml").write_text(SEX_SWAPPED, encoding="utf-8"),
    "gaiji_table": lambda r: (r / "vendor_a" / "gaiji.csv").write_text(
        "code,replacement,mj,note\nF040,﨑,,\n", encoding="utf-8"
    ),
}


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_change_to_any_definition_file_changes_the_run_identity(
    defs: Path, inputs: list[str], kind: str
) -> None:
    mapping = defs / "vendor_a" / "juki-2.5.yaml"
    before = _plan(mapping, inputs)
    assert _plan(mapping, inputs) == before  # the same files give the same identity
    EDITS[kind](defs)
    assert _plan(mapping, inputs) != before, kind


def test_content_options_change_the_run_identity_and_load_ids(tmp_path: Path, inputs: list[str]) -> None:
    juki = str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
    ids = []
    for i, extra in enumerate(([], ["--gaiji-unmapped", "flag"])):
        res = cli(
            "convert",
            "-m",
            juki,
            *inputs,
            "--out",
            str(tmp_path / f"o{i}"),
            "-w",
            "parquet",
            "--json",
            *extra,
        )
        assert res.exit_code in (0, 1), res.stderr
        ids.append(_run_id(json.loads(res.stdout)))
    assert ids[0] != ids[1]
    from midlayout.pipeline.runid import writer_load_id

    assert (
        writer_load_id(ids[0], "postgres", {"mode": "upsert", "dsn": "host=a"}, {"dsn"})
        == writer_load_id(ids[0], "postgres", {"mode": "upsert", "dsn": "host=b"}, {"dsn"})
        != writer_load_id(ids[0], "postgres", {"mode": "append"}, {"dsn"})
    )
    plan = convert_module.plan_run_id
    mappings = [load_mapping(Path(juki))]
    from midlayout.pipeline.options import ConvertOptions

    pandera = ConvertOptions(writers=(), validator="pandera")
    assert plan(mappings, inputs, pandera) != plan(mappings, inputs)


def test_verify_names_the_edited_definition(defs: Path, inputs: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    mapping = str(defs / "vendor_a" / "juki-2.5.yaml")
    assert cli("convert", "-m", mapping, *inputs, "--out", str(out), "-w", "parquet").exit_code in (0, 1)
    assert cli("verify", str(out / "manifest.json")).exit_code == 0
    EDITS["code_map"](defs)
    res = cli("verify", str(out / "manifest.json"), "--json")
    assert res.exit_code == 1
    bad = [c for c in json.loads(res.stdout)["files"] if c["status"] != "ok"]
    assert [Path(c["path"]).name for c in bad] == ["sex.yaml"], bad


def test_resume_reruns_an_entry_whose_code_map_changed(defs: Path, inputs: list[str], tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "job: {id: j, out: out}\n"
        "entries:\n"
        "  - id: a\n"
        f"    mappings: [{defs / 'vendor_a' / 'juki-2.5.yaml'}]\n"
        f"    inputs: [{inputs[0]}, {inputs[1]}]\n"
        "    writers: {parquet: {}}\n",
        encoding="utf-8",
    )
    assert cli("run", str(job)).exit_code in (0, 1)
    unchanged = json.loads(cli("run", str(job), "--resume", "--json").stdout)
    assert unchanged["entries"][0]["status"] == "skipped"
    EDITS["code_map"](defs)
    again = json.loads(cli("run", str(job), "--resume", "--json").stdout)
    assert again["entries"][0]["status"] != "skipped"
    parquet = tmp_path / "out" / "a" / "parquet" / "juki" / "jumin.parquet"
    import polars as pl

    assert set(pl.read_parquet(parquet)["seibetsu"].unique()) <= {"1", "2"}


# --- the output folder ---


def _convert(inputs: list[str], out: Path, *args: str) -> Any:
    return cli(
        "convert", "-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), *inputs, "--out", str(out), *args
    )


def _files(out: Path) -> list[str]:
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and ".midlayout" not in p.relative_to(out).parts
    )


def test_user_files_in_the_output_folder_are_never_deleted(inputs: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    mine = [out / ".report.tmp.docx", out / "parquet" / ".notes.tmp.txt", out / ".staging" / "keep.txt"]
    for p in mine:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"the user's")
    assert _convert(inputs, out).exit_code in (0, 1)
    assert _convert(inputs, out, "-w", "parquet").exit_code in (0, 1)
    assert all(p.read_bytes() == b"the user's" for p in mine)


def test_a_rerun_removes_the_previous_runs_outputs_it_no_longer_writes(
    inputs: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert _convert(inputs, out).exit_code in (0, 1)
    assert (out / "standard" / "juki" / "jumin.csv").exists() and (out / "midlayout.duckdb").exists()
    assert _convert(inputs, out, "-w", "parquet").exit_code in (0, 1)  # same run identity: replaced
    assert not (out / "standard").exists() and not (out / "midlayout.duckdb").exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sorted([*manifest["output_set"], "manifest.json"]) == _files(out)
    assert cli("verify", str(out / "manifest.json")).exit_code == 0


def test_another_runs_folder_is_refused_without_overwrite(inputs: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _convert(inputs, out).exit_code in (0, 1)
    before = {n: (out / n).read_bytes() for n in _files(out)}
    other = [str(p) for p in vendor_a(tmp_path / "other", 3, 9)][:2]
    refused = _convert(other, out)
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr and "\n" not in refused.stderr.strip()
    assert {n: (out / n).read_bytes() for n in _files(out)} == before
    assert _convert(other, out, "--overwrite").exit_code in (0, 1)
    assert cli("verify", str(out / "manifest.json")).exit_code == 0


def test_a_failed_rerun_keeps_the_previous_run_complete_and_verifiable(
    inputs: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert _convert(inputs, out).exit_code in (0, 1)
    before = {n: (out / n).read_bytes() for n in _files(out)}
    unreachable = "postgres.dsn=host=127.0.0.1 port=1 dbname=x connect_timeout=2"
    failed = _convert(inputs, out, "-w", "parquet", "-w", "postgres", "-O", unreachable)
    assert failed.exit_code == 2, failed.stderr
    assert {n: (out / n).read_bytes() for n in _files(out)} == before
    assert cli("verify", str(out / "manifest.json")).exit_code == 0


def test_a_file_not_written_by_midlayout_is_not_replaced_without_overwrite(
    inputs: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects.csv").write_bytes(b"someone else's")
    res = _convert(inputs, out)
    assert res.exit_code == 2 and "rejects.csv" in res.stderr and "--overwrite" in res.stderr
    assert (out / "rejects.csv").read_bytes() == b"someone else's" and not (out / "manifest.json").exists()
    assert _convert(inputs, out, "--overwrite").exit_code in (0, 1)


def test_a_second_concurrent_run_is_refused_naming_the_holder(inputs: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".midlayout").mkdir(parents=True)
    with (out / ".midlayout" / "lock").open("w") as fh:  # another run holds the folder
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("pid 4242 on host since now\n")
        fh.flush()
        res = _convert(inputs, out)
    assert res.exit_code == 2, res.stderr
    assert "in use by another midlayout run" in res.stderr and "pid 4242" in res.stderr
    assert _files(out) == []


# --- who may read it ---


def _modes(out: Path) -> set[tuple[str, int]]:
    return {
        ("dir" if p.is_dir() else "file", p.stat().st_mode & 0o777)
        for p in out.rglob("*")
        if ".midlayout" not in p.relative_to(out).parts
    }


def test_outputs_are_not_world_readable_and_the_mode_is_an_option(inputs: list[str], tmp_path: Path) -> None:
    assert _convert(inputs, tmp_path / "a").exit_code in (0, 1)
    assert _modes(tmp_path / "a") == {("dir", 0o750), ("file", 0o640)}
    assert _convert(inputs, tmp_path / "b", "--output-mode", "600").exit_code in (0, 1)
    assert _modes(tmp_path / "b") == {("dir", 0o700), ("file", 0o600)}
    bad = _convert(inputs, tmp_path / "c", "--output-mode", "755")
    assert bad.exit_code == 2 and "--output-mode" in bad.stderr


def test_duckdb_content_hash_is_reproducible_and_verified(inputs: list[str], tmp_path: Path) -> None:
    manifests = []
    for name in ("a", "b"):
        assert _convert(inputs, tmp_path / name).exit_code in (0, 1)
        manifests.append(json.loads((tmp_path / name / "manifest.json").read_text(encoding="utf-8")))
    db = [next(o for o in m["outputs"] if o["writer"] == "duckdb") for m in manifests]
    assert db[0]["details"]["content_sha256"] == db[1]["details"]["content_sha256"]
    con = duckdb.connect(str(tmp_path / "a" / "midlayout.duckdb"))
    con.execute("UPDATE juki.jumin SET seibetsu = '9' WHERE rowid = 0")
    con.close()
    res = cli("verify", str(tmp_path / "a" / "manifest.json"), "--json")
    assert res.exit_code == 1
    roles = {c["role"] for c in json.loads(res.stdout)["files"] if c["status"] == "mismatch"}
    assert "output-content" in roles


def test_readme_says_rejects_hold_raw_personal_records() -> None:
    for name in ("README.md", "README.ja.md", "docs/run-integrity.md", "docs/ja/run-integrity.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "rejects." in text and ("personal" in text or "個人" in text), name


# --- PostgreSQL: a changed code map is a new load ---


def _seibetsu(dsn: str, schema: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    query = sql.SQL("SELECT seibetsu, count(*) FROM {}.jumin GROUP BY 1").format(sql.Identifier(schema))
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(query).fetchall()
    return {str(k): int(n) for k, n in rows}


def _pg_convert(pg: tuple[str, str], mapping: Path, inputs: list[str], out: Path) -> dict[str, Any]:
    dsn, prefix = pg
    res = cli(
        "convert", "-m", str(mapping), *inputs, "--out", str(out), "-w", "postgres", "-w", "parquet", "--json",
        "-O", f"postgres.dsn={dsn}", "-O", f"postgres.schema_prefix={prefix}", "-O", f"postgres.meta_schema={prefix}meta",
        "-O", "postgres.mode=upsert",
    )  # fmt: skip
    assert res.exit_code in (0, 1), res.stderr
    return dict(json.loads(res.stdout))


def test_a_changed_code_map_is_applied_by_an_upsert(
    pg: tuple[str, str], defs: Path, inputs: list[str], tmp_path: Path
) -> None:
    mapping = defs / "vendor_a" / "juki-2.5.yaml"
    first = _pg_convert(pg, mapping, inputs, tmp_path / "out")
    before = _seibetsu(pg[0], pg[1] + "juki")
    EDITS["code_map"](defs)
    second = _pg_convert(pg, mapping, inputs, tmp_path / "out2")
    statuses = {o["details"]["status"] for o in second["outputs"] if o["writer"] == "postgres"}
    assert statuses == {"applied"}
    after = _seibetsu(pg[0], pg[1] + "juki")
    assert after == {"1": before.get("2", 0), "2": before.get("1", 0)} and after != before
    assert _run_id(first) != _run_id(second)


@pytest.mark.slow
def test_killed_between_database_commit_and_swap_a_rerun_completes_the_files(
    pg: tuple[str, str], inputs: list[str], tmp_path: Path
) -> None:
    dsn, prefix = pg
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from midlayout.cli.app import main; main()", "convert"]
    cmd += ["-m", str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"), *inputs, "--out", str(out), "--json"]
    cmd += [
        "-w",
        "postgres",
        "-w",
        "parquet",
        "-O",
        f"postgres.dsn={dsn}",
        "-O",
        f"postgres.schema_prefix={prefix}",
    ]
    cmd += ["-O", f"postgres.meta_schema={prefix}meta"]
    env = {**os.environ, "MIDLAYOUT_LAYOUTS": str(LAYOUTS), "MIDLAYOUT_FAULT": "commit:postgres"}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -9 and _files(out) == []
    applied = _seibetsu(dsn, prefix + "juki")
    del env["MIDLAYOUT_FAULT"]
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode in (0, 1), rerun.stderr
    manifest = json.loads(rerun.stdout)
    assert {o["details"]["status"] for o in manifest["outputs"] if o["writer"] == "postgres"} == {
        "already_applied"
    }
    assert (
        _seibetsu(dsn, prefix + "juki") == applied and (out / "parquet" / "juki" / "jumin.parquet").exists()
    )
