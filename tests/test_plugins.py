"""Writer discovery through the `midlayout.writers` entry points: the example plugin, broken plugins, the switch."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoints, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.writers import registry
from midlayout.writers.postgres import PostgresWriter
from tests.conftest import MAPPINGS
from tests.synth import vendor_b

B_MAPPING = str(MAPPINGS / "vendor_b" / "juki-2.5.yaml")


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_writers_list_shows_builtins_and_the_installed_example_plugin() -> None:
    result = cli("writers", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows == {r["name"]: r for r in registry.inventory()}
    example = rows.get("example")
    assert example is not None, (
        "the example plugin is not installed: pip install -e examples/midlayout-example-writer"
    )
    assert (example["kind"], example["module"], example["loaded"]) == (
        "plugin",
        "midlayout_example_writer",
        True,
    )
    assert example["distribution"].startswith("midlayout-example-writer ")
    for name in ("standard", "fixed", "parquet", "duckdb", "postgres"):
        assert rows[name]["kind"] == "built-in" and rows[name]["module"].startswith("midlayout.writers.")
    assert "mode" in rows["postgres"]["options"]
    table = cli("writers", "list")
    assert table.exit_code == 0 and "example" in table.stdout and "plugin" in table.stdout


def test_convert_uses_the_example_plugin(tmp_path: Path) -> None:
    inputs = [str(p) for p in vendor_b(tmp_path / "in", 3)]
    result = cli(
        "convert",
        "-m",
        B_MAPPING,
        *inputs,
        "--out",
        str(tmp_path / "out"),
        "--writer",
        "example",
        "-O",
        "example.folder=lines",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    jumin = tmp_path / "out" / "lines" / "juki" / "jumin.jsonl"
    rows = [json.loads(line) for line in jumin.read_text(encoding="utf-8").splitlines()]
    person = next(i for i in manifest["inputs"] if i["path"].endswith("person.csv"))
    assert len(rows) == person["records_written"] > 0 and rows[0]["zokugara"] == "02"
    out = next(o for o in manifest["outputs"] if o["target"] == "chukan/juki@2.5:jumin")
    assert (out["writer"], out["path"], out["rows"]) == ("example", "lines/juki/jumin.jsonl", len(rows))


def test_unknown_option_and_writer_are_usage_errors(tmp_path: Path) -> None:
    inputs = [str(p) for p in vendor_b(tmp_path / "in", 1)]
    bad_opt = cli(
        "convert",
        "-m",
        B_MAPPING,
        *inputs,
        "--out",
        str(tmp_path / "o"),
        "-w",
        "example",
        "-O",
        "example.colour=red",
    )
    assert bad_opt.exit_code == 2 and "unknown option 'colour'" in bad_opt.stderr
    stray = cli(
        "convert",
        "-m",
        B_MAPPING,
        *inputs,
        "--out",
        str(tmp_path / "o"),
        "-w",
        "standard",
        "-O",
        "postgres.mode=upsert",
    )
    assert stray.exit_code == 2 and "not among the writers" in stray.stderr
    assert not (tmp_path / "o" / "manifest.json").exists()


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution whose entry point names a module that does not exist."""
    dist = tmp_path / "site" / "midlayout_broken-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: midlayout-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[midlayout.writers]\nbroken = midlayout_broken_missing:Writer\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


@pytest.mark.usefixtures("broken_plugin")
def test_a_broken_plugin_warns_and_does_not_crash(tmp_path: Path) -> None:
    listed = cli("writers", "list", "--json")
    assert listed.exit_code == 0
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["broken"]["loaded"] is False and "midlayout_broken_missing" in rows["broken"]["error"]
    assert "warning: writer 'broken'" in listed.stderr and "failed to load" in listed.stderr
    inputs = [str(p) for p in vendor_b(tmp_path / "in", 1)]
    used = cli("convert", "-m", B_MAPPING, *inputs, "--out", str(tmp_path / "o"), "-w", "broken")
    assert (
        used.exit_code == 2 and len(used.stderr.strip().splitlines()) == 1 and "failed to load" in used.stderr
    )
    fine = cli("convert", "-m", B_MAPPING, *inputs, "--out", str(tmp_path / "o"), "-w", "standard")
    assert fine.exit_code == 0, fine.stderr


@pytest.mark.usefixtures("broken_plugin")
def test_disable_plugins_keeps_only_the_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIDLAYOUT_DISABLE_PLUGINS", "1")
    listed = cli("writers", "list", "--json")
    assert {r["name"] for r in json.loads(listed.stdout)} == set(registry.BUILTINS) and listed.stderr == ""
    inputs = [str(p) for p in vendor_b(tmp_path / "in", 1)]
    used = cli("convert", "-m", B_MAPPING, *inputs, "--out", str(tmp_path / "o"), "-w", "example")
    assert used.exit_code == 2 and "disabled by MIDLAYOUT_DISABLE_PLUGINS" in used.stderr


def test_builtins_fall_back_to_the_literal_table_when_the_metadata_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(registry, "distribution", missing)  # a source tree run without installing
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    found = registry.discover()
    assert {n: i.value for n, i in found.items() if i.builtin} == registry.BUILTINS
    assert set(registry.available()) == set(registry.BUILTINS)
    assert registry.get_writer("postgres") is PostgresWriter


def test_builtins_are_read_from_midlayouts_own_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """One registration path: with the metadata present, the literal table is not consulted."""
    real = distribution("midlayout")

    class WithoutFixed:
        entry_points = EntryPoints(ep for ep in real.entry_points if ep.name != "fixed")

    monkeypatch.setattr(registry, "distribution", lambda name: WithoutFixed())
    found = registry.discover()
    assert "fixed" not in found and {"standard", "parquet", "duckdb", "postgres"} <= set(found)
    assert all(found[n].builtin for n in ("standard", "parquet", "duckdb", "postgres"))


def test_the_postgres_writer_imports_psycopg_only_when_a_load_starts() -> None:
    code = (
        "import sys, midlayout.writers.postgres as p; p.PostgresWriter; assert 'psycopg' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_builtins_are_registered_in_the_package_metadata() -> None:
    from importlib.metadata import entry_points

    ours = {
        ep.name: ep.value
        for ep in entry_points(group=registry.GROUP)
        if ep.dist and ep.dist.name == "midlayout"
    }
    assert ours == registry.BUILTINS
