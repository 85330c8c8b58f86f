"""A convert killed with SIGKILL leaves nothing that looks complete; a rerun gives identical outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import VENDOR_A, household, person, record
from tests.conftest import LAYOUTS, MAPPINGS

N = 50_000
DATA_FILES = (
    "parquet/juki/jumin.parquet",
    "parquet/juki/setai.parquet",
    "standard/juki/jumin.csv",
    "standard/juki/setai.csv",
)


def _big_inputs(folder: Path) -> list[str]:
    folder.mkdir()
    jumin, setai = VENDOR_A.file("jumin"), VENDOR_A.file("setai")
    head = record(jumin, person(0, 0, 1, "01"))
    hh = record(setai, household(0, 0))
    # Vary only the numbers: every person heads a 世帯 of one; record 7 of every 1000 has an unmapped code.
    people = bytearray()
    households = bytearray()
    for i in range(1, N + 1):
        num = f"{i:010d}".encode()
        rec = num + num + head[20:]
        if i % 1000 == 7:
            rec = rec[:119] + b"X" + rec[120:]
        people += rec + b"\r\n"
        households += num + num + hh[20:]
    (folder / "JUMIN.DAT").write_bytes(bytes(people))
    (folder / "SETAI.DAT").write_bytes(bytes(households))
    return [str(folder / "JUMIN.DAT"), str(folder / "SETAI.DAT")]


def _cmd(inputs: list[str], out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "midlayout.cli.app",
        "convert",
        "-m",
        str(MAPPINGS / "vendor_a" / "juki-2.5.yaml"),
        *inputs,
        "--out",
        str(out),
        "--batch-size",
        "2500",
    ]


def _looks_complete(out: Path) -> list[str]:
    names = ["manifest.json", "midlayout.duckdb", "rejects.parquet", "rejects.csv", *DATA_FILES]
    return [n for n in names if (out / n).exists()]


@pytest.mark.slow
def test_sigkill_midway_then_rerun_is_byte_identical(tmp_path: Path) -> None:
    inputs = _big_inputs(tmp_path / "in")
    env = {**os.environ, "MIDLAYOUT_LAYOUTS": str(LAYOUTS)}
    reference = tmp_path / "reference"
    assert subprocess.run(_cmd(inputs, reference), env=env, capture_output=True, check=False).returncode == 1

    out = tmp_path / "out"
    proc = subprocess.Popen(_cmd(inputs, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any((out / ".staging").glob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _looks_complete(out) == []

    assert subprocess.run(_cmd(inputs, out), env=env, capture_output=True, check=False).returncode == 1
    for rel in DATA_FILES + ("rejects.parquet",):
        assert (out / rel).read_bytes() == (reference / rel).read_bytes(), rel
    assert not list(out.rglob(".*.tmp*")) and not (out / ".staging").exists()
