"""Manifests travel: a delivery copied elsewhere verifies, from any folder; a job manifest verifies entry by entry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.layout.bundled import portable_ref, resolve_ref
from tests.conftest import LAYOUTS, MAPPINGS, SAMPLES

runner = CliRunner()


def _tree(root: Path) -> Path:
    """A vendor's delivery as an auditor gets it: mapping, extracts and the converted output in one folder."""
    shutil.copytree(MAPPINGS / "vendor_b", root / "mappings" / "vendor_b")
    shutil.copytree(SAMPLES / "vendor_b", root / "in")
    res = runner.invoke(
        app,
        [
            "convert",
            "-m",
            str(root / "mappings" / "vendor_b" / "juki-2.5.yaml"),
            str(root / "in" / "person.csv"),
            str(root / "in" / "household.csv"),
            "--out",
            str(root / "out"),
        ],
    )
    assert res.exit_code in (0, 1), res.stderr
    return root / "out" / "manifest.json"


def _verify(*args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["verify", *args, "--json"])
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, json.loads(res.stdout)


def test_manifest_records_package_references_and_paths_relative_to_its_folder(tmp_path: Path) -> None:
    data = json.loads(_tree(tmp_path / "tree").read_text(encoding="utf-8"))
    assert data["layouts"][0]["path"] == "package:layouts/chukan/juki/2.5.yaml"
    assert data["mappings"][0]["path"] == "../mappings/vendor_b/juki-2.5.yaml"
    assert [i["path"] for i in data["inputs"]] == ["../in/person.csv", "../in/household.csv"]
    assert Path(data["inputs"][0]["absolute_path"]).is_absolute()
    assert {o["path"] for o in data["outputs"]} >= {"rejects.parquet", "parquet/juki/jumin.parquet"}


def test_a_delivery_copied_to_another_folder_verifies_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path / "tree")
    shutil.copytree(tmp_path / "tree", tmp_path / "elsewhere" / "copy")
    shutil.rmtree(tmp_path / "tree")  # nothing may still point at the original
    monkeypatch.chdir(tmp_path)
    code, report = _verify("elsewhere/copy/out/manifest.json")
    assert code == 0 and report["ok"], [f for f in report["files"] if f["status"] != "ok"]
    assert len(report["files"]) == 27
    monkeypatch.chdir(tmp_path / "elsewhere" / "copy" / "in")  # a third folder: same answer
    text = runner.invoke(app, ["verify", "../out/manifest.json"])
    assert text.exit_code == 0 and "27 of 27 files match" in text.stdout
    # reconcile resolves the mapping, inputs and outputs from the manifest's folder too
    rec = runner.invoke(app, ["reconcile", str(tmp_path / "elsewhere" / "copy" / "out" / "manifest.json")])
    assert rec.exit_code == 0, rec.stderr
    assert rec.stdout.rstrip().endswith("PASS")


def test_a_manifest_moved_away_from_its_tree_verifies_with_base_and_says_what_is_missing(
    tmp_path: Path,
) -> None:
    manifest = _tree(tmp_path / "tree")
    alone = tmp_path / "alone" / "manifest.json"
    alone.parent.mkdir()
    shutil.copy(manifest, alone)
    code, report = _verify(str(alone))
    bundled = [f for f in report["files"] if f["path"].startswith("package:")]
    assert bundled and all(f["status"] == "ok" for f in bundled)  # the installation's own layouts
    assert code == 1 and {f["status"] for f in report["files"] if f not in bundled} == {"missing"}
    text = runner.invoke(app, ["verify", str(alone)])
    line = next(x for x in text.stdout.splitlines() if x.startswith("missing") and "person.csv" in x)
    assert f"no file at {tmp_path / 'in' / 'person.csv'}" in line and "--base" in line
    code, report = _verify(str(alone), "--base", str(manifest.parent))
    assert code == 0 and report["ok"]


def test_a_job_manifest_verifies_each_entry(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "job: {id: two, out: out}\n"
        "defaults: {writers: {parquet: {}}}\n"
        "entries:\n"
        f"  - {{id: b, mappings: [{MAPPINGS / 'vendor_b' / 'juki-2.5.yaml'}],"
        f" inputs: [{SAMPLES / 'vendor_b' / 'person.csv'}, {SAMPLES / 'vendor_b' / 'household.csv'}]}}\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["run", str(job)]).exit_code in (0, 1)
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "out", moved)
    code, report = _verify(str(moved / "job-manifest.json"))
    roles = [f["role"] for f in report["files"]]
    assert code == 0 and roles[:2] == ["job", "entry b"] and roles.count("output") >= 3, report
    (moved / "b" / "parquet" / "juki" / "setai.parquet").write_bytes(b"PAR1")
    code, report = _verify(str(moved / "job-manifest.json"))
    assert code == 1 and [f["path"] for f in report["files"] if f["status"] != "ok"] == [
        "parquet/juki/setai.parquet"
    ]


def test_validate_without_out_does_not_name_a_deleted_manifest(tmp_path: Path) -> None:
    out = tmp_path / "conv"
    runner.invoke(
        app,
        [
            "convert",
            "-m",
            str(MAPPINGS / "vendor_b" / "juki-2.5.yaml"),
            str(SAMPLES / "vendor_b" / "person.csv"),
            str(SAMPLES / "vendor_b" / "household.csv"),
            "--out",
            str(out),
        ],
    )
    res = runner.invoke(
        app, ["validate", "-l", "chukan/juki@2.5", str(out / "standard" / "juki" / "jumin.csv")]
    )
    assert "manifest.json" not in res.stdout and "nothing kept" in res.stdout, res.stdout


def test_references_round_trip(tmp_path: Path) -> None:
    bundled = LAYOUTS / "chukan" / "juki" / "2.5.yaml"
    ref = portable_ref(bundled, tmp_path)
    assert ref == "package:layouts/chukan/juki/2.5.yaml"
    assert resolve_ref(ref, tmp_path).read_bytes() == bundled.read_bytes()
    other = tmp_path / "a" / "b.yaml"
    assert portable_ref(other, tmp_path / "out") == "../a/b.yaml"
    assert resolve_ref("../a/b.yaml", tmp_path / "out") == tmp_path / "a" / "b.yaml"
