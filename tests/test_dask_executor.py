"""`--executor dask` (issue 15): the same content as `--executor local` on the samples, a trap corpus and a synth
extract of many pieces; the planner's checks on every worker; a worker killed mid-piece (the piece runs again,
the outputs do not change) and a scheduler lost mid-run (exit 3, nothing that looks complete, a rerun succeeds).

A real cluster: `dask scheduler` and `dask worker` started as local subprocesses (one pair of workers shared by
the module), and a LocalCluster for the CLI run. Faults are injected with MIDLAYOUT_FAULT (pipeline/faults.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from benchmarks.same_outputs import difference
from midlayout.cli import app
from midlayout.errors import InputError, UsageError
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline import executors
from midlayout.pipeline.batches import WORKER_ENV
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.pipeline.executors import dask as dask_executor
from midlayout.pipeline.faults import ENV as FAULT_ENV
from midlayout.pipeline.staging import Stage
from midlayout.synth import generate_vendor_a
from midlayout.text import ebcdic
from tests import test_text_fidelity as fidelity
from tests.conftest import MAPPINGS, ROOT, SAMPLES

DASK = Path(sys.executable).parent / "dask"
WRITERS = ("parquet", "standard", "duckdb")
A_MAPPINGS = [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"]
A_INPUTS = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
B_MAPPINGS = [MAPPINGS / "vendor_b" / "juki-2.5.yaml"]
B_INPUTS = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]


# --- a cluster of local subprocesses ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process this module started, and its own children (its session: a worker's nanny child)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=15)


@contextmanager
def cluster(logs: Path, workers: int) -> Iterator[str]:
    """`dask scheduler` and `workers` × `dask worker --nworkers 1 --nthreads 1` on random free ports; the
    scheduler's address once every worker has joined."""
    from distributed import Client

    logs.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = os.environ | WORKER_ENV
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str]) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [str(DASK), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=logs,
                    start_new_session=True,
                )
            )

    try:
        start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        )
        for i in range(workers):
            start(
                f"worker{i}",
                [
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--memory-limit",
                    "0",
                    "--local-directory",
                    str(logs / f"w{i}"),
                ],
            )
        with Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One scheduler and two workers for the module."""
    with cluster(tmp_path_factory.mktemp("cluster"), 2) as address:
        yield address


def _worker_pids(address: str) -> dict[str, int]:
    from distributed import Client

    with Client(address, timeout="30s", set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)  # a killed worker's nanny starts it again
        return dict(client.run(os.getpid))


# --- identical content (../shared/WAVE2.md) ---


def _manifest(path: Path) -> dict[str, Any]:
    """The manifest without timings and the executor fields; where the folder lies (`absolute_path`) and the
    DuckDB file's own sha256 (its tables are compared one by one, and by their content hash) left out."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("timings")
    assert set(data.pop("executor")) == {"executor", "scheduler", "workers"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "absolute_path"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = strip(data)
    for out in data["outputs"]:
        if out["writer"] == "duckdb":
            out.pop("sha256")
    return data  # type: ignore[no-any-return]


def assert_same_content(a: Path, b: Path) -> None:
    """Identical content as `benchmarks.same_outputs` defines it (DuckDB table by table among it), and
    stricter: the same files, Parquet, the standard CSV, rejects and reports byte for byte, the manifests
    equal but for timings and the executor fields (paths kept)."""
    found = difference(a, b)
    assert found is None, found
    files = {str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()}
    assert files == {str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()}
    assert {"manifest.json", "midlayout.duckdb", "rejects.parquet", "rejects.csv"} <= files
    for rel in sorted(files):
        if rel == "manifest.json":
            assert _manifest(a / rel) == _manifest(b / rel)
        elif not rel.endswith(".duckdb"):  # compared table by table by `difference`
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def _both(
    tmp_path: Path, mappings: list[Path], inputs: list[str], batch: int, address: str | None, **kw: Any
) -> tuple[Path, Path]:
    maps = [load_mapping(m) for m in mappings]
    local = ConvertOptions(WRITERS, batch_size=batch, workers=1, **kw)
    convert(maps, inputs, tmp_path / "local", local)
    on_dask = ConvertOptions(WRITERS, batch_size=batch, executor="dask", scheduler=address, **kw)
    result = convert(maps, inputs, tmp_path / "dask", on_dask)
    assert result.manifest.executor == {"executor": "dask", "scheduler": address, "workers": 2}
    assert_same_content(tmp_path / "local", tmp_path / "dask")
    return tmp_path / "local", tmp_path / "dask"


def test_vendor_a_with_lookups_same_content(tmp_path: Path, scheduler: str) -> None:
    local, dask = _both(tmp_path, A_MAPPINGS, A_INPUTS, 7, scheduler)
    m = json.loads((local / "manifest.json").read_text(encoding="utf-8"))
    assert m["executor"] == {"executor": "local", "scheduler": None, "workers": 1}
    # the executor is not part of what the run is: same run identity and load ids
    d = json.loads((dask / "manifest.json").read_text(encoding="utf-8"))
    assert (m["run_id"], m["load_ids"]) == (d["run_id"], d["load_ids"])
    assert m["rejects"]["rows"] > 0  # the samples' rejects are compared too


def test_vendor_b_same_content(tmp_path: Path, scheduler: str) -> None:
    _both(tmp_path, B_MAPPINGS, B_INPUTS, 5, scheduler)


def test_dask_workers_stage_every_batch_local_one_does_not(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of a piece reach the client as a staged part on the shared filesystem; in-process (the local
    run `_both` compares with, whose targets the cross-file rules reject from) as the frame itself."""
    seen: dict[str, list[object]] = {"local": [], "dask": []}
    add, run = Stage.add, ["local"]

    def spy(stage: Stage, target: str, done: Any) -> None:
        seen[run[0]].append(done.rows.is_file() if isinstance(done.rows, Path) else type(done.rows))
        add(stage, target, done)

    monkeypatch.setattr(Stage, "add", spy)
    maps = [load_mapping(m) for m in A_MAPPINGS]
    convert(maps, A_INPUTS, tmp_path / "local", ConvertOptions(WRITERS, batch_size=7, workers=1))
    run[0] = "dask"
    options = ConvertOptions(WRITERS, batch_size=7, executor="dask", scheduler=scheduler)
    convert(maps, A_INPUTS, tmp_path / "dask", options)
    assert len(seen["dask"]) > 6 and set(seen["dask"]) == {True}  # each a part on disk when it arrived
    assert len(seen["local"]) == len(seen["dask"]) and set(seen["local"]) == {pl.DataFrame}
    assert_same_content(tmp_path / "local", tmp_path / "dask")


@pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")
def test_text_fidelity_trap_corpus_same_content(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping, inputs = fidelity._corpus(tmp_path, "repertoire: jisx0208")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    local, _ = _both(tmp_path, [mapping], inputs, 3, scheduler, gaiji_unmapped="flag")
    assert (local / "gaiji-report.csv").stat().st_size > 0


def test_synth_extract_in_many_pieces_same_content(tmp_path: Path, scheduler: str) -> None:
    files = generate_vendor_a(tmp_path / "synth", 150, 2026, traps=True, workers=1)
    local, _ = _both(tmp_path, A_MAPPINGS, [str(p) for p in files.values()], 16, scheduler)
    m = json.loads((local / "manifest.json").read_text(encoding="utf-8"))
    assert max(i["records_read"] for i in m["inputs"]) > 10 * 16  # many pieces per input


def test_cli_on_a_local_cluster_same_content(tmp_path: Path) -> None:
    """`--executor dask` without `--scheduler` starts (and stops) a LocalCluster of `--workers` processes."""
    base = ["convert", *(a for m in A_MAPPINGS for a in ("-m", str(m))), *A_INPUTS, "--batch-size", "11"]
    runner = CliRunner()
    assert runner.invoke(app, [*base, "--out", str(tmp_path / "local"), "--workers", "1"]).exit_code == 1
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "dask"), "--executor", "dask", "--workers", "2"])
    assert res.exit_code == 1, res.output
    assert_same_content(tmp_path / "local", tmp_path / "dask")
    m = json.loads((tmp_path / "dask" / "manifest.json").read_text(encoding="utf-8"))
    assert m["executor"] == {"executor": "dask", "scheduler": None, "workers": 2}


# --- faults ---


def test_worker_killed_mid_piece_is_run_again_with_the_same_outputs(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _worker_pids(scheduler)
    monkeypatch.setenv(FAULT_ENV, "piece-kill:3")  # the worker running piece 3 of job 0 SIGKILLs itself once
    _both(tmp_path, A_MAPPINGS, A_INPUTS, 7, scheduler)
    after = _worker_pids(scheduler)
    assert len(after) == 2 and len(set(before.values()) & set(after.values())) == 1  # one worker died


def test_scheduler_lost_mid_run_is_exit_3_and_a_rerun_succeeds(tmp_path: Path, scheduler: str) -> None:
    out = tmp_path / "out"
    with cluster(tmp_path / "doomed", 1) as doomed:
        proc = subprocess.run(
            [sys.executable, "-m", "midlayout", "convert"]
            + [a for m in A_MAPPINGS for a in ("-m", str(m))]
            + [
                *A_INPUTS,
                "--batch-size",
                "7",
                "--out",
                str(out),
                "--executor",
                "dask",
                "--scheduler",
                doomed,
            ],
            env=os.environ | {FAULT_ENV: "scheduler-lost:2"},
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3, proc.stderr
    assert lines == [
        f"error: internal error: dask scheduler at {doomed} lost during the read phase; nothing was committed, rerun"
    ], proc.stderr
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert not [p for p in left if not p.startswith(".midlayout")], left  # no manifest, no output
    assert not (out / ".midlayout" / "next").exists()
    # rerun (on the module's cluster): complete, with the content of a local run
    maps = [load_mapping(m) for m in A_MAPPINGS]
    convert(maps, A_INPUTS, out, ConvertOptions(WRITERS, batch_size=7, executor="dask", scheduler=scheduler))
    convert(maps, A_INPUTS, tmp_path / "local", ConvertOptions(WRITERS, batch_size=7, workers=1))
    assert_same_content(tmp_path / "local", out)


# --- the planner's checks on every worker ---


class _SeenHere:
    """An input as the client sees it: `size` bytes at `name` (which the workers may not see)."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size

    def __str__(self) -> str:
        return self.name

    def stat(self) -> os.stat_result:
        return os.stat_result((0, 0, 0, 0, 0, 0, self.size, 0, 0, 0))


def _check(scheduler: str, path: _SeenHere, stage: Path) -> str:
    from distributed import Client

    runner = SimpleNamespace(jobs=[SimpleNamespace(path=path)], root=stage)
    with Client(scheduler, timeout="30s", set_as_default=False) as client, pytest.raises(InputError) as err:
        dask_executor.check_workers(client, runner, str(ROOT))  # type: ignore[arg-type]
    assert err.value.exit_code == 2
    return str(err.value)


def test_planner_checks_name_the_worker_and_the_path(tmp_path: Path, scheduler: str) -> None:
    workers = set(_worker_pids(scheduler))
    sample = SAMPLES / "vendor_a" / "ZEI.DAT"
    size = sample.stat().st_size

    def names_a_worker(message: str) -> bool:
        return any(f"dask worker {w}:" in message for w in workers)

    msg = _check(scheduler, _SeenHere(str(sample), size + 1), tmp_path)
    assert names_a_worker(msg) and f"{size} bytes there, {size + 1} here" in msg and str(sample) in msg
    msg = _check(scheduler, _SeenHere(str(tmp_path / "only-here.DAT"), 10), tmp_path)
    assert names_a_worker(msg) and "cannot read the input" in msg and "only-here.DAT" in msg
    msg = _check(scheduler, _SeenHere(str(sample), size), tmp_path / "no-stage")
    assert names_a_worker(msg) and "stage folder" in msg and "no-stage" in msg
    assert "\n" not in msg


def test_unreachable_scheduler_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", "2s")
    address = f"tcp://127.0.0.1:{_free_port()}"
    options = ConvertOptions(WRITERS, executor="dask", scheduler=address)
    t0 = time.monotonic()
    with pytest.raises(UsageError, match=f"cannot reach the dask scheduler at {address}"):
        convert([load_mapping(m) for m in B_MAPPINGS], B_INPUTS, tmp_path / "out", options)
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_refused_scheduler_port_is_exit_2_without_the_connect_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens at the address: exit 2 at once, not after Dask's 30 s of connection retries."""
    import distributed

    def no_client(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a refused port must not be retried for CONNECT_TIMEOUT")

    monkeypatch.setattr(distributed, "Client", no_client)
    address = f"tcp://127.0.0.1:{_free_port()}"
    options = ConvertOptions(WRITERS, executor="dask", scheduler=address)
    with pytest.raises(UsageError, match=f"cannot reach the dask scheduler at {address} .*refused"):
        convert([load_mapping(m) for m in B_MAPPINGS], B_INPUTS, tmp_path / "out", options)
    assert not (tmp_path / "out" / "manifest.json").exists()


# --- options ---


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"executor": "ray"}, "--executor must be one of local, dask, not 'ray'"),
        ({"scheduler": "tcp://h:8786"}, "--scheduler needs --executor dask"),
        ({"executor": "local", "scheduler": "tcp://h:8786"}, "--scheduler needs --executor dask"),
        ({"executor": "dask", "scheduler": "tcp://h:8786", "workers": 4}, "--workers sizes the LocalCluster"),
    ],
)
def test_bad_executor_options_are_usage_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        ConvertOptions(**kw)


def test_dask_not_installed_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(executors, "dask_available", lambda: False)
    with pytest.raises(UsageError, match=r"pip install midlayout\[dask\]"):
        ConvertOptions(executor="dask")
    res = CliRunner().invoke(
        app,
        ["convert", "-m", str(B_MAPPINGS[0]), *B_INPUTS, "--out", str(tmp_path / "o"), "--executor", "dask"],
    )
    assert res.exit_code == 2 and "pip install midlayout[dask]" in res.output


def test_the_executor_is_not_in_the_run_identity() -> None:
    from midlayout.pipeline.convert import plan_run_id

    maps = [load_mapping(m) for m in B_MAPPINGS]
    local = plan_run_id(maps, B_INPUTS, ConvertOptions(writers=()))
    on_dask = plan_run_id(maps, B_INPUTS, ConvertOptions(writers=(), executor="dask", scheduler="tcp://h:1"))
    assert local == on_dask


def test_run_passes_the_executor_to_each_entry(tmp_path: Path, scheduler: str) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        f"""job: {{id: t, out: {tmp_path / "out"}}}
defaults: {{writers: {{parquet: {{}}}}}}
entries:
  - id: b
    mappings: [{B_MAPPINGS[0]}]
    inputs: [{", ".join(B_INPUTS)}]
""",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["run", str(job), "--executor", "dask", "--scheduler", scheduler, "--json"])
    assert res.exit_code in (0, 1), res.output
    entry = next((tmp_path / "out").rglob("manifest.json"))
    executor = json.loads(entry.read_text(encoding="utf-8"))["executor"]
    assert executor == {"executor": "dask", "scheduler": scheduler, "workers": 2}


def test_run_with_a_refused_scheduler_leaves_no_output_folder(tmp_path: Path) -> None:
    """`run` made its --out before it met the cluster: a scheduler it cannot reach leaves nothing behind."""
    out = tmp_path / "job-out"
    address = f"tcp://127.0.0.1:{_free_port()}"
    res = CliRunner().invoke(
        app,
        [
            "run",
            str(ROOT / "jobs" / "demo-postgres.yaml"),
            "--out",
            str(out),
            "--executor",
            "dask",
            "--scheduler",
            address,
        ],
    )
    assert res.exit_code == 2, res.output
    assert "cannot reach the dask scheduler" in res.output
    assert not out.exists()
