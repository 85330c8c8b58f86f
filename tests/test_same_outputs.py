"""benchmarks/same_outputs.py (used by `make demo-dask` and the dask bench) tells identical content from a change.

Two runs of the same conversion into folders at different depths are the same; a byte of the standard CSV, the
order of a Parquet file's rows, a DuckDB row or a manifest count changed in a copy is named as the difference;
timings and the executor fields of the manifest are not part of the content.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from benchmarks.same_outputs import difference, main
from midlayout.layout.mapping import load_mapping
from midlayout.pipeline.convert import ConvertOptions, convert
from tests.conftest import MAPPINGS, SAMPLES


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("same")
    mapping = load_mapping(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
    inputs = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]
    options = ConvertOptions(("parquet", "standard", "duckdb"), workers=1)
    first, second = root / "a", root / "deeper" / "b"
    convert([mapping], inputs, first, options)
    convert([mapping], inputs, second, options)
    return first, second


def _copy(src: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    return dest


def _edit_manifest(folder: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_two_runs_of_the_same_conversion_are_the_same(
    two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_runs
    assert difference(first, second) is None
    assert main([str(first), str(second)]) == 0
    assert "same content" in capsys.readouterr().out


def test_timings_and_executor_fields_are_not_content(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")

    def other_executor(m: dict[str, Any]) -> None:
        m["timings"] = {"total_s": 99.0}
        m["executor"] = {"executor": "dask", "scheduler": "tcp://10.0.0.1:8786", "workers": 16}

    _edit_manifest(copy, other_executor)
    assert difference(two_runs[0], copy) is None


def test_a_changed_byte_of_the_standard_csv_is_named(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")
    csv = next((copy / "standard").rglob("*.csv"))
    data = bytearray(csv.read_bytes())
    data[-3] ^= 1
    csv.write_bytes(bytes(data))
    found = difference(two_runs[0], copy)
    assert found is not None and csv.name in found and "bytes differ" in found
    assert main([str(two_runs[0]), str(copy)]) == 1


def test_parquet_rows_in_another_order_are_a_difference(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")
    part = next((copy / "parquet").rglob("*.parquet"))
    pl.read_parquet(part).reverse().write_parquet(part)
    found = difference(two_runs[0], copy)
    assert found is not None and part.name in found and "order" in found


def test_a_duckdb_row_removed_is_a_difference(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")
    with duckdb.connect(str(copy / "midlayout.duckdb")) as con:
        row = con.execute("SELECT schema_name, table_name FROM duckdb_tables() LIMIT 1").fetchone()
        assert row is not None
        schema, table = row
        con.execute(f'DELETE FROM "{schema}"."{table}" WHERE rowid = 0')
    found = difference(two_runs[0], copy)
    assert found == f"midlayout.duckdb: {schema}.{table} holds other rows"


def test_a_changed_count_in_the_manifest_is_a_difference(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")

    def one_more(m: dict[str, Any]) -> None:
        m["inputs"][0]["records_written"] += 1

    _edit_manifest(copy, one_more)
    assert difference(two_runs[0], copy) == "manifest.inputs[0].records_written differs"


def test_a_folder_without_a_manifest_did_not_complete(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(two_runs[1], tmp_path / "copy")
    (copy / "manifest.json").unlink()
    found = difference(two_runs[0], copy)
    assert found is not None and "no manifest.json" in found
