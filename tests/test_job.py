"""Batch jobs: strict job files, the demo job into PostgreSQL (twice), fail-fast, keep-going and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import MAPPINGS, ROOT
from tests.synth import vendor_a, vendor_b
from tests.test_postgres import query, snapshot


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def demo_job(tmp_path: Path, prefix: str) -> Path:
    """jobs/demo-postgres.yaml as shipped, over generated inputs in the samples' shapes, into our schemas."""
    vendor_a(tmp_path / "samples" / "vendor_a", 4, 1)
    vendor_b(tmp_path / "samples" / "vendor_b", 3, 2)
    text = (ROOT / "jobs" / "demo-postgres.yaml").read_text(encoding="utf-8")
    text = text.replace("../mappings/", f"{MAPPINGS}/").replace("demo_", prefix)
    path = tmp_path / "jobs" / "demo.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def pg_env(pg: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The test server as PG* variables, the way the demo job connects."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(pg[0])
    for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("dbname", "PGDATABASE"), ("user", "PGUSER")):
        if key in params:
            monkeypatch.setenv(var, str(params[key]))
    return pg


def _state(pg: tuple[str, str]) -> dict[str, Any]:
    dsn, prefix = pg
    tables = [
        ("a_juki", "setai"),
        ("a_juki", "jumin"),
        ("a_kojin_juminzei", "kazei"),
        ("b_juki", "setai"),
        ("b_juki", "jumin"),
    ]
    state: dict[str, Any] = {f"{s}.{t}": snapshot(dsn, prefix + s, t) for s, t in tables}
    state["loads"] = query(dsn, f'SELECT * FROM "{prefix}midlayout".midlayout_loads ORDER BY 1, 2, 3')
    return state


def test_demo_job_loads_both_gyomu_and_a_second_run_changes_nothing(
    pg_env: tuple[str, str], tmp_path: Path
) -> None:
    job = demo_job(tmp_path, pg_env[1])
    first = cli("run", str(job), "--json")
    assert first.exit_code == 0, first.stdout + first.stderr
    manifest_path = tmp_path / "out" / "jobs" / "demo-postgres" / "job-manifest.json"
    assert json.loads(first.stdout) == json.loads(manifest_path.read_text(encoding="utf-8"))
    entries = {e["id"]: e for e in json.loads(first.stdout)["entries"]}
    assert entries["vendor_a"]["gyomu"] == ["juki", "kojin_juminzei"] and entries["vendor_b"]["gyomu"] == [
        "juki"
    ]
    assert all(e["status"] == "ok" and e["records_rejected"] == 0 for e in entries.values())
    state = _state(pg_env)
    assert (
        state["a_juki.jumin"][0]
        == state["a_kojin_juminzei.kazei"][0]
        == (entries["vendor_a"]["records_read"] - 4) // 2
    )
    assert state["b_juki.setai"][0] == 3 and len(state["loads"]) == 5
    linked = json.loads((manifest_path.parent / entries["vendor_b"]["manifest"]).read_text(encoding="utf-8"))
    assert linked["run_id"] == entries["vendor_b"]["run_id"]

    second = cli("run", str(job), "--json")
    assert second.exit_code == 0, second.stderr
    assert _state(pg_env) == state
    statuses = {
        o["status"]
        for e in json.loads(second.stdout)["entries"]
        for o in e["outputs"]
        if o["writer"] == "postgres"
    }
    assert statuses == {"already_applied"}

    resumed = cli("run", str(job), "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert "status: ok" in resumed.stdout and "job-manifest.json" in resumed.stdout
    assert [e["status"] for e in json.loads(manifest_path.read_text(encoding="utf-8"))["entries"]] == [
        "skipped",
        "skipped",
    ]
    assert _state(pg_env) == state


def _job(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(body, encoding="utf-8")
    return path


ENTRY = f"""\
job:
  id: j
entries:
  - id: a
    mappings: [{MAPPINGS}/vendor_b/juki-2.5.yaml]
    inputs: [b/person.csv, b/household.csv]
    writers: {{standard: {{}}}}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("  - id: a\n", "  - id: a\n    colour: red\n", 5, "unknown key 'colour'"),
        ("{standard: {}}", "{sqlite: {}}", 7, "unknown writer 'sqlite'"),
        ("{standard: {}}", "{postgres: {modus: upsert}}", 7, "unknown key 'modus'"),
        ("vendor_b/juki-2.5.yaml", "vendor_b/nope.yaml", 5, "mapping file not found"),
        ("  id: j\n", "  id: j\n  on_error: maybe\n", 3, "'maybe' is not one of stop, continue"),
        (
            "    writers: {standard: {}}\n",
            "    writers: {standard: {}}\n  - id: a\n    mappings: []\n    inputs: [x]\n",
            9,
            "must not be empty",
        ),
    ],
)
def test_job_errors_name_file_and_line(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in ENTRY
    path = _job(tmp_path, ENTRY.replace(old, new, 1))
    result = cli("run", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{path}:{line}" in result.stderr and message in result.stderr


def test_duplicate_entry_ids_are_refused(tmp_path: Path) -> None:
    body = ENTRY + ENTRY.split("entries:\n", 1)[1]
    result = cli("run", str(_job(tmp_path, body)))
    assert result.exit_code == 2 and "entry id 'a' is used twice" in result.stderr and ":8" in result.stderr


def test_fail_fast_keep_going_and_resume(tmp_path: Path) -> None:
    vendor_b(tmp_path / "b", 2)
    bad = tmp_path / "bad"
    vendor_a(bad, 2)
    (bad / "JUMIN.DAT").write_bytes((bad / "JUMIN.DAT").read_bytes()[:-100])  # truncated last record
    body = ENTRY.replace(
        "entries:\n",
        f"""entries:
  - id: broken
    mappings: [{MAPPINGS}/vendor_a/juki-2.5.yaml]
    inputs: [bad/JUMIN.DAT, bad/SETAI.DAT]
    writers: {{standard: {{}}}}
""",
    )
    job = _job(tmp_path, body)
    stop = cli("run", str(job), "--out", str(tmp_path / "o1"), "--json")
    assert stop.exit_code == 2
    got = {e["id"]: e for e in json.loads(stop.stdout)["entries"]}
    assert got["broken"]["status"] == "failed" and "truncated last record" in got["broken"]["error"]
    assert got["a"]["status"] == "not_run"

    going = cli("run", str(job), "--out", str(tmp_path / "o2"), "--keep-going", "--json")
    assert going.exit_code == 2
    got = {e["id"]: e for e in json.loads(going.stdout)["entries"]}
    assert (got["broken"]["status"], got["a"]["status"]) == ("failed", "ok")
    assert (tmp_path / "o2" / "a" / "standard" / "juki" / "jumin.csv").is_file()

    vendor_a(bad, 2)  # the extract is delivered again, complete
    resumed = cli("run", str(job), "--out", str(tmp_path / "o2"), "--resume", "--json")
    assert resumed.exit_code == 0, resumed.stdout
    assert [e["status"] for e in json.loads(resumed.stdout)["entries"]] == ["ok", "skipped"]
    (tmp_path / "o2" / "a" / "standard" / "juki" / "jumin.csv").write_text("tampered")
    again = cli("run", str(job), "--out", str(tmp_path / "o2"), "--resume", "--json")
    assert [e["status"] for e in json.loads(again.stdout)["entries"]] == ["skipped", "ok"]
