"""`ConvertOptions` checks itself, so every entry point (convert, validate, run, reconcile) gives the same
usage error for the same bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.errors import UsageError
from midlayout.memlimit import parse_memory_limit
from midlayout.pipeline.options import ConvertOptions
from tests.conftest import MAPPINGS, SAMPLES

B_MAPPING = str(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
B_INPUTS = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _job(tmp_path: Path) -> Path:
    job = tmp_path / "job.yaml"
    job.write_text(
        f"""job: {{id: t, out: {tmp_path / "out"}}}
defaults: {{writers: {{parquet: {{}}}}}}
entries:
  - id: b
    mappings: [{B_MAPPING}]
    inputs: [{", ".join(B_INPUTS)}]
""",
        encoding="utf-8",
    )
    return job


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-size", "0"), ("--batch-size", "-3"), ("--memory-limit", "lots")]
)
def test_run_and_convert_give_the_same_usage_error(tmp_path: Path, option: str, value: str) -> None:
    """Measured on 2924ff0: `run JOB.yaml --batch-size 0` ended as exit 3, "internal error: range() arg 3
    must not be zero"; neither command took --memory-limit."""
    run = cli("run", str(_job(tmp_path)), option, value)
    conv = cli("convert", "-m", B_MAPPING, *B_INPUTS, "--out", str(tmp_path / "c"), option, value)
    assert (run.exit_code, conv.exit_code) == (2, 2), (run.output, conv.output)
    assert run.stderr == conv.stderr and option in run.stderr and "internal error" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "b").exists() and not (tmp_path / "c" / "manifest.json").exists()


def test_memory_limit_bounds_the_run_and_keeps_its_outputs(tmp_path: Path) -> None:
    plain = cli("convert", "-m", B_MAPPING, *B_INPUTS, "--out", str(tmp_path / "a"), "-w", "parquet")
    bounded = cli(
        "convert", "-m", B_MAPPING, *B_INPUTS, "--out", str(tmp_path / "b"), "-w", "parquet",
        "--memory-limit", "64MB",
    )  # fmt: skip
    assert plain.exit_code == bounded.exit_code == 1  # the samples hold rejects on purpose
    for part in sorted((tmp_path / "a" / "parquet").rglob("*.parquet")):
        twin = tmp_path / "b" / part.relative_to(tmp_path / "a")
        assert pl.read_parquet(part).equals(pl.read_parquet(twin))
    ran = cli("run", str(_job(tmp_path)), "--memory-limit", "64MB")
    assert ran.exit_code == 1, ran.output


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"workers": 0}, "--workers must be at least 1"),
        ({"gaiji_unmapped": "keep"}, "--gaiji-unmapped must be one of reject, flag"),
        ({"validator": "cerberus"}, "unknown validator 'cerberus'"),
        ({"memory_limit": "2 gigs"}, "--memory-limit '2 gigs'"),
        ({"memory_limit": "0MB"}, "--memory-limit '0MB'"),
        ({"writers": ("parquet", "parquet")}, "a writer is named twice"),
        (
            {"writers": ("parquet",), "writer_options": {"postgres": {"mode": "upsert"}}},
            "not among the writers",
        ),
        ({"kernels": "turbo"}, "unknown kernels 'turbo'"),
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ConvertOptions(**kwargs)


def test_memory_limits_in_duckdbs_words() -> None:
    assert [parse_memory_limit(t) for t in ("512MB", " 2gb ", "1.5GiB", "100kb")] == [
        "512MB",
        "2GB",
        "1.5GiB",
        "100KB",
    ]
    assert ConvertOptions().crossfile_memory_limit == "256MB"
    assert ConvertOptions().lookup_memory_limit == "128MB"
    assert ConvertOptions(memory_limit="1gb").lookup_memory_limit == "1GB"
