"""`verify` never passes a manifest it cannot vouch for: every entry of a job manifest, every field verify reads,
and a fuzz that changes a real manifest one field at a time (exit 0 only for the manifest as written)."""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import MAPPINGS, SAMPLES

runner = CliRunner()

# Fields `verify` does not vouch for (docs/run-integrity.md, "What verify vouches for"): facts about the run
# that neither a file's bytes nor the other fields can confirm. Every other field is checked.
INFORMATIONAL = {
    "tool",
    "timings",
    "executor",  # what ran the batches: not content (WAVE2)
    "validation",  # the rules the sources proved (mapping/proof.py): verify does not re-prove them
    "text",
    "unchecked",
    "output_mode",
    "absolute_path",
    "file",
    "encoding",
    "terminator",
    "details/schema",
    "started",
    "finished",
    "seconds",
    "error",
    "municipality",
    "gyomu",
    "out",
    "job/id",
    "load_ids/parquet",  # a load id's value: the run identity plus writer options the manifest does not record
    "load_ids/duckdb",
    "load_ids/standard",
}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A job run of vendor B (parquet, DuckDB, standard CSV): its folder, holding job-manifest.json and b/."""
    root = tmp_path_factory.mktemp("verify")
    shutil.copytree(MAPPINGS / "vendor_b", root / "mappings")
    shutil.copytree(SAMPLES / "vendor_b", root / "in")
    (root / "job.yaml").write_text(
        "job: {id: one, out: out}\n"
        "entries:\n"
        "  - {id: b, mappings: [mappings/juki-2.5.yaml], inputs: [in/person.csv, in/household.csv]}\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["run", str(root / "job.yaml")])
    assert res.exit_code == 1, res.output  # vendor B's sample has rejects
    return root / "out"


def _verify(path: Path) -> tuple[int, str]:
    res = runner.invoke(app, ["verify", str(path)])
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.output, res.exception)
    return res.exit_code, res.stdout + res.stderr


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_the_untouched_manifests_verify(delivery: Path) -> None:
    assert _verify(delivery / "b" / "manifest.json")[0] == 0
    assert _verify(delivery / "job-manifest.json")[0] == 0


@pytest.mark.parametrize("junk", [42, "b/manifest.json", None, ["b"]])
def test_a_job_manifest_entry_that_is_not_an_object_is_exit_2_naming_it(delivery: Path, junk: Any) -> None:
    job = json.loads((delivery / "job-manifest.json").read_text(encoding="utf-8"))
    job["entries"] = [job["entries"][0], junk]
    code, out = _verify(_write(delivery / "tampered-job.json", job))
    assert code == 2 and "entry 1" in out and "not an object" in out, out
    assert len(out.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"manifest": None}, "entry 0 (b): status rejects but no manifest"),
        ({"manifest_sha256": 42}, "entry 0 (b): manifest_sha256"),
        ({"status": "done"}, "entry 0 (b): status"),
        ({"id": 7}, "entry 0: id"),
        ({"manifest": "../../etc/passwd"}, "outside"),
    ],
)
def test_a_job_manifest_entry_with_a_wrong_field_is_exit_2(
    delivery: Path, change: dict[str, Any], says: str
) -> None:
    job = json.loads((delivery / "job-manifest.json").read_text(encoding="utf-8"))
    job["entries"][0].update(change)
    code, out = _verify(_write(delivery / "tampered-job.json", job))
    assert code == 2 and says in out, out


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("outputs", {"path": "x"}, "outputs is not a list"),
        ("definitions", 3, "definitions is not a list"),
        ("output_set", None, "output_set is not a list"),
    ],
)
def test_a_manifest_field_of_the_wrong_type_is_exit_2(
    delivery: Path, field: str, value: Any, says: str
) -> None:
    data = json.loads((delivery / "b" / "manifest.json").read_text(encoding="utf-8"))
    data[field] = value
    code, out = _verify(_write(delivery / "b" / "tampered.json", data))
    assert code == 2 and says in out, out


def test_an_output_path_out_of_the_folder_is_exit_2(delivery: Path) -> None:
    data = json.loads((delivery / "b" / "manifest.json").read_text(encoding="utf-8"))
    i = next(i for i, o in enumerate(data["outputs"]) if o["path"] == "rejects.csv")
    data["outputs"][i]["path"] = "../b/rejects.csv"  # the same file, reached from outside the folder
    code, out = _verify(_write(delivery / "b" / "tampered.json", data))
    assert code == 2 and f"outputs entry {i}" in out and "outside" in out, out


def test_a_truncated_manifest_is_exit_2(delivery: Path) -> None:
    text = (delivery / "b" / "manifest.json").read_text(encoding="utf-8")
    for cut in (0, 1, len(text) // 3, len(text) - 3):
        (delivery / "b" / "tampered.json").write_text(text[:cut], encoding="utf-8")
        assert _verify(delivery / "b" / "tampered.json")[0] == 2


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*at, i))
    return found


def _informational(at: tuple[Any, ...]) -> bool:
    keys = [str(k) for k in at if not isinstance(k, int)]
    return any(k in INFORMATIONAL for k in keys) or "/".join(keys[-2:]) in INFORMATIONAL


def _mutations(value: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("delete", None), ("null", None), ("int", 42), ("str", "x"), ("list", [])]
    out.append(("object", {}))
    if isinstance(value, str) and value:
        out.append(("edit", value[:-1] + ("0" if value[-1] != "0" else "1")))
    if isinstance(value, int) and not isinstance(value, bool):
        out.append(("plus one", value + 1))
    if isinstance(value, list) and value:
        out.append(("drop last", value[:-1]))
        out.append(("duplicate", [*value, value[0]]))
    return out


def _mutate(data: Any, at: tuple[Any, ...], kind: str, new: Any) -> Any:
    data = copy.deepcopy(data)
    parent = data
    for k in at[:-1]:
        parent = parent[k]
    if kind == "delete":
        del parent[at[-1]]
    else:
        parent[at[-1]] = new
    return data


@pytest.mark.parametrize("which", ["b/manifest.json", "job-manifest.json"])
def test_fuzz_a_manifest_changed_in_one_field_never_verifies(delivery: Path, which: str) -> None:
    """Each case changes one field of a real manifest (delete it, retype it, edit it, drop or repeat a list
    item); verify must never answer exit 0 unless the field is one it does not vouch for."""
    original = json.loads((delivery / which).read_text(encoding="utf-8"))
    cases = [
        (at, kind, new)
        for at in _paths(original)
        if not _informational(at)
        for kind, new in _mutations(_get(original, at))
    ]
    n = int(os.environ.get("MIDLAYOUT_FUZZ_CASES", "150"))
    random.Random(20261201).shuffle(cases)
    target = (delivery / which).with_name("tampered.json")
    passed = []
    for at, kind, new in cases[:n]:
        mutated = _mutate(original, at, kind, new)
        if mutated == original:
            continue
        code, _ = _verify(_write(target, mutated))
        if code == 0:
            passed.append(f"{'.'.join(map(str, at))} {kind}")
    assert not passed, "\n".join(passed)


def _get(data: Any, at: tuple[Any, ...]) -> Any:
    for k in at:
        data = data[k]
    return data


def test_duckdb_never_draws_its_progress_bar_on_stdout() -> None:
    """DuckDB draws a progress bar on the process's stdout (fd 1, past sys.stdout) for a query that runs longer
    than 2 s, which a content hash of a large database does on a busy machine (150k households: 3-5 s): it broke
    `verify --json`, and cross-file checks did the same to `convert --json`. Every connection is opened by
    `open_duckdb`, which turns the bar off."""
    import re

    from midlayout.duckcon import open_duckdb

    con = open_duckdb()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    con.close()
    src = Path(__file__).parents[1] / "src" / "midlayout"
    direct = [
        f"{p.relative_to(src)}:{n}"
        for p in sorted(src.rglob("*.py"))
        if p.name != "duckcon.py"
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bduckdb\.connect\(", line)
    ]
    assert not direct, direct
