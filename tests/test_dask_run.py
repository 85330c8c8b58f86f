"""`midlayout run --executor dask` (issue 15, item 3): a job's entries side by side on one cluster, with the
same outputs and the same job manifest as the local executor (entries in job-file order), `--keep-going`
and `--resume`.

The job has three entries: A社 住基 + 個人住民税 (fixed-width CP932, with a lookup), B社 住基 (UTF-8 CSV)
and B社 住基 CP932 (the same extract transcoded). One LocalCluster serves the module (`--scheduler`); the
comparison run starts its own (`--workers 2`, as a user would).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from benchmarks.same_outputs import difference
from midlayout.cli import app
from tests import test_job
from tests.conftest import MAPPINGS
from tests.synth import vendor_a, vendor_b
from tests.test_job import _state, demo_job

pg_env = test_job.pg_env  # the test server as PG* variables (a fixture)

ENTRIES = ["a_juki_zei", "b_utf8", "b_cp932"]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A 2-worker LocalCluster for the module: its address, for `--scheduler`."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit=0, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _inputs(folder: Path) -> None:
    vendor_a(folder / "a", 6, 3)
    vendor_b(folder / "b", 5, 4)
    (folder / "b932").mkdir()
    for name in ("person.csv", "household.csv"):
        text = (folder / "b" / name).read_bytes().decode("utf-8-sig")
        (folder / "b932" / name).write_bytes(text.encode("cp932"))


def _job(folder: Path, broken: bool = False) -> Path:
    """The three entries (job-file order: A社, B社 UTF-8, B社 CP932); `broken`: A社's 住民 extract is cut
    in the middle of its last record, so that entry fails (exit 2)."""
    _inputs(folder)
    if broken:
        jumin = folder / "a" / "JUMIN.DAT"
        jumin.write_bytes(jumin.read_bytes()[:-100])
    path = folder / "job.yaml"
    path.write_text(
        f"""\
job:
  id: three
  out: out
entries:
  - id: a_juki_zei
    municipality: "999991"
    mappings: [{MAPPINGS}/vendor_a/juki-2.5.yaml, {MAPPINGS}/vendor_a/kojin_juminzei-2.5.yaml]
    inputs: [a/JUMIN.DAT, a/SETAI.DAT, a/ZEI.DAT]
  - id: b_utf8
    municipality: "999992"
    mappings: [{MAPPINGS}/vendor_b/juki-2.5.yaml]
    inputs: [b/person.csv, b/household.csv]
  - id: b_cp932
    municipality: "999993"
    mappings: [{MAPPINGS}/vendor_b/juki-2.5-cp932.yaml]
    inputs: [b932/person.csv, b932/household.csv]
""",
        encoding="utf-8",
    )
    return path


def _run(job: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("run", str(job), "--out", str(out), "--json", *args)
    assert result.stdout, result.stderr
    manifest = json.loads((out / "job-manifest.json").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == manifest
    return result.exit_code, manifest


def _mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o7777)


def _content(manifest: dict[str, Any], top: Path) -> dict[str, Any]:
    """A manifest (a job's or an entry's) without timings, the executor fields and what names where the
    folder lies or hashes a file compared by content instead (the DuckDB file; an entry's manifest)."""
    drop = {"timings", "executor", "started", "finished", "seconds", "absolute_path", "manifest_sha256"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("writer") == "duckdb":
                value = {k: v for k, v in value.items() if k != "sha256"}
            return {k: strip(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str):
            return value.replace(str(top), "<out>")
        return value

    assert set(manifest["executor"]) == {"executor", "scheduler", "workers"}
    return strip(manifest)  # type: ignore[no-any-return]


def assert_same_entry(a: Path, b: Path) -> None:
    """Parquet, the standard CSV and rejects byte for byte, DuckDB table by table, the manifests equal but
    for timings and the executor fields; every file and folder with the same mode (entries running side
    by side share the process's umask). DuckDB is compared table by table by `benchmarks.same_outputs`."""
    found = difference(a, b)
    assert found is None, found
    files = {str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()}
    assert files == {str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()}
    assert {rel: _mode(a / rel) for rel in ["."] + sorted(files)} == {
        rel: _mode(b / rel) for rel in ["."] + sorted(files)
    }
    assert {"manifest.json", "midlayout.duckdb", "rejects.parquet", "rejects.csv"} <= files
    assert any(f.endswith(".parquet") and f != "rejects.parquet" for f in files)
    assert any(f.startswith("standard/") and f.endswith(".csv") for f in files)
    for rel in sorted(files):
        if rel == "manifest.json":
            left = json.loads((a / rel).read_text(encoding="utf-8"))
            right = json.loads((b / rel).read_text(encoding="utf-8"))
            assert left["executor"]["executor"] != right["executor"]["executor"]
            assert _content(left, a) == _content(right, b)
        elif not rel.endswith(".duckdb"):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_dask_job_same_outputs_and_job_manifest_as_local(tmp_path: Path) -> None:
    job = _job(tmp_path)
    code_local, local = _run(job, tmp_path / "local", "--workers", "1")
    code_dask, dask = _run(job, tmp_path / "dask", "--executor", "dask", "--workers", "2")
    assert code_local == code_dask == 0
    assert [e["id"] for e in local["entries"]] == [e["id"] for e in dask["entries"]] == ENTRIES
    assert all(e["status"] == "ok" and e["records_read"] > 0 for e in dask["entries"])
    assert local["executor"] == {"executor": "local", "scheduler": None, "workers": 1}
    assert dask["executor"] == {"executor": "dask", "scheduler": None, "workers": 2}
    assert _content(local, tmp_path / "local") == _content(dask, tmp_path / "dask")
    assert _mode(tmp_path / "local" / "job-manifest.json") == _mode(tmp_path / "dask" / "job-manifest.json")
    verified = cli("verify", str(tmp_path / "dask" / "job-manifest.json"))
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    for entry in ENTRIES:
        assert_same_entry(tmp_path / "local" / entry, tmp_path / "dask" / entry)
        manifest = json.loads((tmp_path / "dask" / entry / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["executor"]["executor"] == "dask" and manifest["executor"]["workers"] == 2
    # B社's two encodings of one extract: the same rows
    for name in ("setai", "jumin"):
        utf8, cp932 = (
            pl.read_parquet(tmp_path / "dask" / e / "parquet" / "juki" / f"{name}.parquet")
            for e in ("b_utf8", "b_cp932")
        )
        assert utf8.equals(cp932)


def test_keep_going_past_a_broken_entry_then_resume(tmp_path: Path, scheduler: str) -> None:
    job = _job(tmp_path, broken=True)
    dask = ("--executor", "dask", "--scheduler", scheduler)
    code, going = _run(job, tmp_path / "o", *dask, "--keep-going")
    assert code == 2
    assert [(e["id"], e["status"]) for e in going["entries"]] == [
        ("a_juki_zei", "failed"),
        ("b_utf8", "ok"),
        ("b_cp932", "ok"),
    ]
    assert "truncated last record" in going["entries"][0]["error"] and going["status"] == "failed"
    assert going["executor"] == {"executor": "dask", "scheduler": scheduler, "workers": 2}
    assert not (tmp_path / "o" / "a_juki_zei" / "manifest.json").exists()

    vendor_a(tmp_path / "a", 6, 3)  # the extract is delivered again, complete
    code, resumed = _run(job, tmp_path / "o", *dask, "--resume")
    assert code == 0
    assert [(e["id"], e["status"]) for e in resumed["entries"]] == [
        ("a_juki_zei", "ok"),
        ("b_utf8", "skipped"),
        ("b_cp932", "skipped"),
    ]
    # the resumed job has what a local run of the repaired job has
    code, local = _run(job, tmp_path / "local", "--workers", "1")
    assert code == 0 and [e["run_id"] for e in local["entries"]] == [e["run_id"] for e in resumed["entries"]]
    for entry in ENTRIES:
        assert_same_entry(tmp_path / "local" / entry, tmp_path / "o" / entry)


def test_fail_fast_starts_no_entry_after_a_failure(tmp_path: Path, scheduler: str) -> None:
    """Without --keep-going: entries already running finish, none starts after the failure; the job
    manifest still lists every entry in job-file order."""
    job = _job(tmp_path, broken=True)
    code, stopped = _run(job, tmp_path / "o", "--executor", "dask", "--scheduler", scheduler)
    assert code == 2 and stopped["status"] == "failed"
    statuses = [(e["id"], e["status"]) for e in stopped["entries"]]
    assert [i for i, _ in statuses] == ENTRIES and statuses[0] == ("a_juki_zei", "failed")
    # two cluster workers: the first two entries start together, the third only if the second
    # finished before the first failed
    assert statuses[1] == ("b_utf8", "ok") and statuses[2][1] in ("ok", "not_run")


def test_entries_run_side_by_side_at_most_one_per_worker(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first two entries must be running at the same time to pass the barrier (one at a time, it
    breaks); never more entries at once than the cluster's two workers; each entry's thread sees the
    command's `--layouts-dir`."""
    from midlayout.layout import registry
    from midlayout.pipeline import job as job_module

    real = job_module._run_entry
    together = threading.Barrier(2)
    lock = threading.Lock()
    running, most = [0], [0]
    mine = tmp_path / "my-layouts"
    mine.mkdir()
    seen: list[tuple[Path, ...]] = []

    def counted(entry: Any, *args: Any) -> Any:
        with lock:
            seen.append(registry._DIRS.get())
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            if entry.id in ENTRIES[:2]:
                together.wait(timeout=120)
            return real(entry, *args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(job_module, "_run_entry", counted)
    code, manifest = _run(
        _job(tmp_path),
        tmp_path / "o",
        "--executor",
        "dask",
        "--scheduler",
        scheduler,
        "--layouts-dir",
        str(mine),
    )
    assert code == 0 and [e["status"] for e in manifest["entries"]] == ["ok"] * 3
    assert most[0] == 2
    assert len(seen) == 3 and all(any(Path(d) == mine for d in dirs) for dirs in seen), seen


def test_progress_of_entries_side_by_side_stays_apart() -> None:
    """Each entry's bars carry its id, and an entry's next phase completes its own bars only."""
    from rich.progress import Progress

    from midlayout.cli.common import RichProgress

    bars = RichProgress(Progress(disable=True))
    a, b = bars.entry("a"), bars.entry("b")
    a.start("/x/JUMIN.DAT", 100)
    b.start("/y/JUMIN.DAT", 100)
    a.advance("/x/JUMIN.DAT", 10)
    b.advance("/y/JUMIN.DAT", 20)
    a.phase("writing outputs")
    tasks = {t.description: t for t in bars.progress.tasks}
    assert set(tasks) == {"a: JUMIN.DAT", "b: JUMIN.DAT", "a: writing outputs"}
    assert tasks["a: JUMIN.DAT"].completed == 100 and tasks["b: JUMIN.DAT"].completed == 20


def test_cluster_lost_mid_job_stops_it_exit_3_then_resume_finishes(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler dies while the first two entries run: both fail (exit 3, nothing of theirs written),
    the third never starts; `--resume` on a live cluster runs the three and matches a local run."""
    from tests.test_dask_executor import cluster

    job = _job(tmp_path)
    monkeypatch.setenv("MIDLAYOUT_FAULT", "scheduler-lost:1")
    with cluster(tmp_path / "doomed", 2) as doomed:
        code, lost = _run(job, tmp_path / "o", "--executor", "dask", "--scheduler", doomed, "--keep-going")
    monkeypatch.delenv("MIDLAYOUT_FAULT")
    assert code == 3 and lost["status"] == "failed"
    statuses = [(e["id"], e["status"], e["exit_code"]) for e in lost["entries"]]
    assert statuses == [("a_juki_zei", "failed", 3), ("b_utf8", "failed", 3), ("b_cp932", "not_run", 0)]
    assert all("scheduler" in e["error"] and "lost" in e["error"] for e in lost["entries"][:2])
    assert not [p for p in (tmp_path / "o").rglob("*") if p.is_file() and p.name != "job-manifest.json"]

    code, resumed = _run(job, tmp_path / "o", "--executor", "dask", "--scheduler", scheduler, "--resume")
    assert code == 0 and [e["status"] for e in resumed["entries"]] == ["ok"] * 3
    _run(job, tmp_path / "local", "--workers", "1")
    for entry in ENTRIES:
        assert_same_entry(tmp_path / "local" / entry, tmp_path / "o" / entry)


def test_demo_postgres_job_on_a_cluster_shares_a_fresh_meta_schema(
    pg_env: tuple[str, str], tmp_path: Path, scheduler: str
) -> None:
    """jobs/demo-postgres.yaml: both entries load at the same time into one new meta schema (and their own
    new target schemas); none fails creating them, and the loads are as a local run records them."""
    job = demo_job(tmp_path, pg_env[1])
    result = cli("run", str(job), "--executor", "dask", "--scheduler", scheduler, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    entries = json.loads(result.stdout)["entries"]
    assert [(e["id"], e["status"]) for e in entries] == [("vendor_a", "ok"), ("vendor_b", "ok")]
    state = _state(pg_env)
    assert len(state["loads"]) == 5 and state["b_juki.setai"][0] == 3
