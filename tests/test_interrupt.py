"""A run stopped at any phase (deterministic MIDLAYOUT_FAULT hooks, never timed kills) leaves the folder holding
one complete run or none, never a mix; a rerun completes it; worker processes (MIDLAYOUT_LOCAL_POOL=processes)
never outlive the main process; Ctrl-C or SIGTERM during the batches keeps the previous set with either pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

from midlayout.audit.verify import verify
from tests.conftest import LAYOUTS, MAPPINGS
from tests.synth import vendor_a

JUKI = str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")
ZEI = str(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml")
KILLED = -signal.SIGKILL
MIDLAYOUT = [sys.executable, "-c", "from midlayout.cli.app import main; main()"]


def _env(fault: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MIDLAYOUT_FAULT"}
    env["MIDLAYOUT_LAYOUTS"] = str(LAYOUTS)
    if fault:
        env["MIDLAYOUT_FAULT"] = fault
    return {**env, **extra}


def _convert(
    inputs: list[str], out: Path, *args: str, fault: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    cmd = [*MIDLAYOUT, "convert", "-m", JUKI, "-m", ZEI, *inputs]
    cmd += ["--out", str(out), *args]
    return subprocess.run(cmd, env=_env(fault, **env), capture_output=True, text=True, check=False)


def _verify(out: Path) -> list[str]:
    """What `verify` finds wrong in the folder's manifest (nothing: [])."""
    return [f"{c.status} {c.path}" for c in verify(out / "manifest.json") if c.status != "ok"]


def _visible(out: Path) -> dict[str, bytes]:
    """Every file a reader of the folder sees (the tool's work folder excluded), with its bytes."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".midlayout" not in p.relative_to(out).parts
    }


def _frames(out: Path) -> dict[str, pl.DataFrame]:
    return {
        p.relative_to(out).as_posix(): pl.read_parquet(p)
        for p in sorted((out / "parquet").rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Two different extracts (X and Y) of the same vendor, and each one's reference output folder."""
    root = tmp_path_factory.mktemp("extracts")
    found = {}
    for name, seed in (("x", 1), ("y", 2)):
        found[name] = [str(p) for p in vendor_a(root / name, 6, seed)]
    return found


@pytest.fixture(scope="module")
def reference_y(extracts: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "y"
    assert _convert(extracts["y"], out).returncode == 0
    return out


# In run order. Before the swap a kill leaves the previous set untouched; inside it (swap:moved, manifest) the
# journal lets the next run into the folder, or verify, restore the previous set before anything else.
BEFORE_SWAP = (
    "commit:parquet",
    "commit:duckdb",
    "files",
    "swap",
)  # commit:parquet: the first final file of Y
IN_SWAP = ("swap:moved", "manifest")


@pytest.mark.slow
def test_a_second_extract_killed_at_any_phase_never_mixes_with_the_first(
    extracts: dict[str, list[str]], reference_y: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert _convert(extracts["x"], out).returncode == 0
    x_files = _visible(out)
    assert "manifest.json" in x_files and "parquet/kojin_juminzei/kazei.parquet" in x_files
    for point in BEFORE_SWAP + IN_SWAP:
        killed = _convert(extracts["y"], out, "--overwrite", fault=point)
        assert killed.returncode == KILLED, (point, killed.stderr)
        if point == "swap:moved":  # any later run into the folder first puts the previous set back...
            assert _convert(extracts["y"], out, "--overwrite", fault="staged").returncode == KILLED
        # ...and so does verify (a swap is a few renames; its journal says what to undo). The folder holds X
        # complete and verifiable, nothing from Y (bytes equal, same file list).
        assert _verify(out) == [], point
        assert _visible(out) == x_files, point
    # Killed after its manifest was written, Y is complete; the next run just clears what is left.
    assert _convert(extracts["y"], out, "--overwrite", fault="done").returncode == KILLED
    assert _verify(out) == []
    rerun = _convert(extracts["y"], out)  # same run identity: replaced without asking
    assert rerun.returncode == 0, rerun.stderr
    got, want = _frames(out), _frames(reference_y)
    assert list(got) == list(want) and all(got[k].equals(want[k]) for k in want)
    for name in ("rejects.csv", "standard/juki/jumin.csv", "standard/juki/setai.csv"):
        assert (out / name).read_bytes() == (reference_y / name).read_bytes(), name
    assert sorted(_visible(out)) == sorted(_visible(reference_y))
    assert not (out / ".midlayout").exists()


@pytest.mark.slow
def test_killed_partitioned_parquet_write_does_not_break_reruns(
    extracts: dict[str, list[str]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # What a partitioned write killed by an earlier version leaves: a temp folder beside the final name.
    leftover = out / "parquet" / "juki" / ".jumin.tmp-99999" / "sex=1"
    leftover.mkdir(parents=True)
    (leftover / "part-00000.parquet").write_bytes(b"partial")
    opts = ("-O", "parquet.partition_by=seibetsu")
    assert _convert(extracts["x"], out, *opts, fault="commit:parquet").returncode == KILLED
    rerun = _convert(extracts["x"], out, *opts)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "parquet" / "juki" / "jumin").is_dir() and _verify(out) == []
    assert (leftover / "part-00000.parquet").read_bytes() == b"partial"  # not ours to delete


def _marked(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (the run and everything it spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _gone(marker: str, within: float = 20.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("how", "code"), [("", KILLED), ("@term", 143)])
def test_workers_and_resource_tracker_die_with_the_main_process(
    extracts: dict[str, list[str]], tmp_path: Path, how: str, code: int
) -> None:
    marker = f"MIDLAYOUT_TEST_MARK={uuid.uuid4().hex}"
    key, value = marker.split("=")
    out = tmp_path / "out"
    # Under setsid, as a supervisor runs it: nothing but the run itself could end the workers.
    cmd = [*MIDLAYOUT, "convert", "-m", JUKI, "-m", ZEI, *extracts["x"]]
    cmd += ["--out", str(out), "--workers", "2", "--batch-size", "5"]
    proc = subprocess.run(
        cmd,
        env=_env(f"batch{how}", **{key: value, "MIDLAYOUT_LOCAL_POOL": "processes"}),
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    assert proc.returncode == code, proc.stderr
    assert _gone(marker) == []
    if how == "@term":  # cleaned up like Ctrl-C: one line, nothing staged left behind
        assert len(proc.stderr.strip().splitlines()) == 1 and "SIGTERM" in proc.stderr
        assert not (out / ".midlayout").exists() and not (out / "manifest.json").exists()


# The child's SIGINT handler is Python's own even when the tests run with SIGINT ignored (a background job).
CTRL_C = [
    sys.executable,
    "-c",
    (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from midlayout.cli.app import main; main()"
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pool", "how", "code", "name"),
    [
        ("threads", "@int", 130, "SIGINT"),
        ("threads", "@term", 143, "SIGTERM"),
        ("processes", "@int", 130, "SIGINT"),
    ],
)
def test_an_interrupt_during_the_batches_keeps_the_previous_set(
    extracts: dict[str, list[str]], tmp_path: Path, pool: str, how: str, code: int, name: str
) -> None:
    """Ctrl-C (or SIGTERM) while the workers (threads of the run, or its processes) hold batches: exit
    128 + signal, one line, the previous set as it was, nothing of the stopped run left (no work folder)."""
    out = tmp_path / "out"
    assert _convert(extracts["x"], out).returncode == 0
    x_files = _visible(out)
    cmd = [*CTRL_C, "convert", "-m", JUKI, "-m", ZEI, *extracts["y"], "--out", str(out), "--overwrite"]
    cmd += ["--workers", "2", "--batch-size", "5"]
    env = _env(f"batch{how}", MIDLAYOUT_LOCAL_POOL=pool)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == code, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and name in proc.stderr
    assert _visible(out) == x_files and _verify(out) == []
    assert not (out / ".midlayout").exists()


@pytest.mark.slow
def test_a_run_killed_while_worker_threads_hold_batches_keeps_the_previous_set(
    extracts: dict[str, list[str]], tmp_path: Path
) -> None:
    """kill -9 of a run whose batches run in worker threads (the default pool): the previous set stays whole
    and verifiable, and a rerun completes."""
    out = tmp_path / "out"
    assert _convert(extracts["x"], out).returncode == 0
    x_files = _visible(out)
    threads = ("--workers", "2", "--batch-size", "5")
    killed = _convert(
        extracts["y"], out, "--overwrite", *threads, fault="batch", MIDLAYOUT_LOCAL_POOL="threads"
    )
    assert killed.returncode == KILLED, killed.stderr
    assert _visible(out) == x_files and _verify(out) == []
    rerun = _convert(extracts["y"], out, "--overwrite", *threads, MIDLAYOUT_LOCAL_POOL="threads")
    assert rerun.returncode == 0, rerun.stderr
    assert _verify(out) == [] and not (out / ".midlayout").exists()


def test_staging_and_work_files_are_owner_only(extracts: dict[str, list[str]], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _convert(extracts["x"], out, fault="staged").returncode == KILLED
    work = out / ".midlayout"
    found = list(work.rglob("*"))
    assert any(p.suffix == ".parquet" for p in found)  # staged rows (names, addresses) are there...
    for p in [work, *found]:  # ...readable by the owner only
        assert p.stat().st_mode & 0o777 == (0o700 if p.is_dir() else 0o600), p
    assert not (out / "manifest.json").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_completes(
    extracts: dict[str, list[str]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = [*MIDLAYOUT, "convert", "-m", JUKI, "-m", ZEI, *extracts["x"], "--out", str(out)]
    first = subprocess.Popen(cmd, env=_env("staged@stop"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Wait for the first run to stop itself (holding the folder) at the hook; no timed kill.
        stat = Path(f"/proc/{first.pid}/stat")
        deadline = time.monotonic() + 60
        while stat.read_text().rsplit(")", 1)[1].split()[0] not in "TZ" and time.monotonic() < deadline:
            time.sleep(0.05)
        second = _convert(extracts["x"], out)
        assert second.returncode == 2, second.stderr
        assert "in use by another midlayout run" in second.stderr and f"pid {first.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert _verify(out) == []
