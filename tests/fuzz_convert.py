"""Mutated vendor-B samples through `midlayout convert`, in process (typer's CliRunner): the invariants a
broken extract must keep (docs/broken-extracts.md). Shared by the CI test (a few cases) and `make fuzz`
(thousands: MIDLAYOUT_FUZZ_CASES)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import MAPPINGS, SAMPLES

MAPPING = str(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
# What a mutation puts in: quoting faults most often (the cases), then framing bytes.
INSERTS = (b'"', b'" ', b'"x', b' "', b'""', b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\x82")


@dataclass(frozen=True)
class Record:
    start: int  # in the original file
    next: int
    raw: bytes  # without its line end


def original_records(data: bytes) -> list[Record]:
    """The sample's records (it is well formed: LFs outside quotes end them), header included."""
    out, inside, s = [], False, 0
    for i, byte in enumerate(data):
        if byte == 0x22:
            inside = not inside
        elif byte == 0x0A and not inside:
            out.append(Record(s, i + 1, data[s : i - 1 if data[i - 1] == 0x0D else i]))
            s = i + 1
    if s < len(data):
        out.append(Record(s, len(data), data[s:]))
    return out


def personal_values(data: bytes) -> set[str]:
    """Values of the sample's records that hold Japanese text (names, addresses): none may reach the
    terminal. The header row holds column names, not values."""
    header, body = data.split(b"\n", 1)
    names = header.decode("utf-8-sig")
    text = body.decode("utf-8").replace("\r", "").replace("\n", "")
    # A value that is also part of a column name (住民 in 住民区分) may be named by a header error.
    return {v for v in text.split('"') if len(v) >= 2 and not v.isascii() and v not in names}


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, int]:
    """One mutation (insert, delete or replace a byte) and where it is in the original."""
    at = int(rng.integers(3, len(data)))  # after the BOM
    kind = rng.random()
    if kind < 0.6:
        return data[:at] + INSERTS[rng.integers(len(INSERTS))] + data[at:], at
    if kind < 0.8:
        return data[:at] + data[at + 1 :], at
    return data[:at] + bytes([0x22 if rng.random() < 0.5 else int(rng.integers(256))]) + data[at + 1 :], at


def run_case(tmp: Path, seed: int, runner: CliRunner) -> None:
    """One fuzz case; AssertionError names the seed."""
    rng = np.random.default_rng(seed)
    name = "person.csv" if rng.random() < 0.8 else "household.csv"
    folder = tmp / f"case{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for n in ("person.csv", "household.csv"):
        shutil.copy(SAMPLES / "vendor_b" / n, folder / n)
    original = (folder / name).read_bytes()
    mutated, at = mutate(original, rng)
    (folder / name).write_bytes(mutated)
    out = folder / "out"
    result = runner.invoke(
        app,
        ["convert", "-m", MAPPING, str(folder / "person.csv"), str(folder / "household.csv")]
        + ["--out", str(out), "-w", "standard", "--workers", "1"],
    )
    where = f"seed {seed}: {name} mutated at byte {at}"
    err = result.stderr + result.stdout
    assert result.exit_code in (0, 1, 2), (where, result.exit_code, err)
    assert "Traceback" not in err, (where, err)
    values = personal_values(original)
    shown = [v for v in values if v in result.stderr]
    assert not shown, (where, "personal values on stderr", len(shown))
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), (where, result.stderr)
        return
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps(manifest, ensure_ascii=False)
    assert not [v for v in values if v in text], (where, "personal values in the manifest")
    records = original_records(original)
    body = len(records) - 1  # the header is not a record
    for i in manifest["inputs"]:
        assert i["records_read"] == i["records_written"] + i["records_rejected"], (where, i)
        if Path(i["path"]).name == name:  # one mutated byte moves one record boundary at most
            assert body - 1 <= i["records_read"] <= body + 1, (where, i["records_read"], body)
    # No input record merged into another's reject: a reject holds no untouched record but its own.
    touched = {k for k, r in enumerate(records) if r.start <= at < r.next}
    touched |= {k + 1 for k in touched}
    if (out / "rejects.parquet").exists():
        for raw in pl.read_parquet(out / "rejects.parquet").get_column("raw").to_list():
            for k, r in enumerate(records):
                if k in touched or not r.raw:
                    continue
                assert not (r.raw in raw and len(raw) > len(r.raw) + 2), (where, "record", k, "merged")
