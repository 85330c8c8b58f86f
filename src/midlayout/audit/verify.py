"""Re-hash every input and output a convert manifest names, and report each mismatch or missing file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from midlayout.audit.manifest_check import (
    Fields,
    check_against_files,
    check_entry_against,
    check_job_manifest,
    check_run_manifest,
)
from midlayout.errors import InputError, Location
from midlayout.layout.bundled import is_package_ref, resolve_ref
from midlayout.pipeline.manifest import load_manifest
from midlayout.writers.base import sha256_path


@dataclass(frozen=True)
class FileCheck:
    """One file of a manifest: its role, the recorded and the actual sha256, the verdict and why."""

    role: str
    path: str
    expected: str
    actual: str | None
    status: str  # "ok", "mismatch" or "missing"
    resolved: str = ""  # where the file was looked for
    reason: str = ""  # for a file that is not ok: what was looked for where, in plain words


def read_manifest(path: Path) -> dict[str, Any]:
    """A manifest.json as data; InputError (one line, naming the file) when it is not one."""
    if not path.is_file():
        raise InputError("manifest not found", Location(file=str(path)))
    try:
        data = load_manifest(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON manifest ({exc})", Location(file=str(path))) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("inputs"), list)
        or not isinstance(data.get("outputs"), list)
    ):
        raise InputError("not a midlayout manifest (no inputs/outputs lists)", Location(file=str(path)))
    return data


def named_files(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role, path, sha256) of every definition file, layout, mapping, input and output file of a manifest that
    `check_run_manifest` accepted.

    A definition's role is its kind (`definition:code_map`, `definition:source_layout`, ...). A database output
    (PostgreSQL) has no file and no sha256: it is not a file to re-hash, and is left out.
    """
    found = [(f"definition:{d['kind']}", str(d["path"]), str(d["sha256"])) for d in manifest["definitions"]]
    for role, entries in (
        ("layout", manifest["layouts"]),
        ("mapping", manifest["mappings"]),
        ("input", manifest["inputs"]),
        ("output", manifest["outputs"]),
    ):
        found += [(role, str(e["path"]), str(e["sha256"])) for e in entries if e.get("sha256")]
    return found


def check_file(role: str, path: str, expected: str, folder: Path) -> FileCheck:
    """Hash one file (or a partitioned output folder) and compare it with the recorded digest.

    `path` is the manifest's reference: `package:layouts/…` for a bundled layout, else a path relative to
    `folder` (the manifest's folder, or `--base`).
    """
    real = resolve_ref(path, folder)
    if not real.exists():
        if is_package_ref(path):
            why = f"not among the layouts bundled with this midlayout (looked for {real})"
        else:
            why = f"no file at {real} (relative paths are read from {folder}; --base DIR reads them from DIR)"
        return FileCheck(role, path, expected, None, "missing", str(real), why)
    actual = sha256_path(real)
    if actual == expected:
        return FileCheck(role, path, expected, actual, "ok", str(real))
    return FileCheck(
        role, path, expected, actual, "mismatch", str(real), "the content differs from the run's"
    )


def verify(manifest_path: Path, base: Path | None = None) -> list[FileCheck]:
    """Check every file the manifest names; relative paths resolve against `base` (default: the manifest's folder).

    A job manifest (`job-manifest.json`) is checked entry by entry: each entry's manifest (its sha256 as the
    job recorded it) and every file that manifest names, from the entry manifest's own folder.

    >>> # [c for c in verify(Path("out/manifest.json")) if c.status != "ok"]  -> [] when intact
    """
    _settle(manifest_path.parent)  # first: a swap killed midway has moved the manifest aside
    data = _read_json(manifest_path)
    if isinstance(data, dict) and ("entries" in data or "job" in data):
        return _verify_job(data, manifest_path, base)
    return _verify_run(data, str(manifest_path), base if base is not None else manifest_path.parent)


def _verify_run(data: Any, where: str, folder: Path) -> list[FileCheck]:
    """Every file of one run's manifest; InputError when the manifest itself was changed or cut short."""
    manifest = check_run_manifest(data, where)
    checks = [check_file(role, path, sha, folder) for role, path, sha in named_files(manifest)]
    checks += content_checks(manifest, folder)
    check_against_files(Fields(where), manifest, folder, {c.path for c in checks if c.status == "ok"})
    return checks


def _settle(folder: Path) -> None:
    """A run killed while swapping its outputs in left a journal: restore the folder to one run first."""
    from midlayout.pipeline.lock import FolderBusy
    from midlayout.pipeline.outputset import settle

    try:
        settle(folder)
    except FolderBusy as exc:
        raise InputError(f"{exc} (verify again when it has finished)", Location(file=str(folder))) from None
    except OSError as exc:
        raise InputError(
            f"a run was stopped while swapping its outputs in, and the folder cannot be restored ({exc}); "
            "rerun the conversion into it",
            Location(file=str(folder)),
        ) from None


def content_checks(manifest: dict[str, Any], folder: Path) -> list[FileCheck]:
    """Re-hash the tables of each DuckDB output whose manifest entry records a `content_sha256`."""
    from midlayout.writers.duckdb_content import content_sha256

    checks = []
    for o in manifest["outputs"]:
        expected = (o.get("details") or {}).get("content_sha256") if isinstance(o, dict) else None
        if not expected:
            continue
        path = str(o["path"])
        real = resolve_ref(path, folder)
        if not real.is_file():
            why = f"no file at {real}"
            checks.append(FileCheck("output-content", path, expected, None, "missing", str(real), why))
            continue
        try:
            actual = content_sha256(real)
        except Exception:  # noqa: BLE001 - not a readable database: its content does not match
            actual = "unreadable"
        status = "ok" if actual == expected else "mismatch"
        why = "" if status == "ok" else "the tables' content differs from the run's"
        checks.append(FileCheck("output-content", path, expected, actual, status, str(real), why))
    return checks


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise InputError("manifest not found", Location(file=str(path)))
    try:
        return load_manifest(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON manifest ({exc})", Location(file=str(path))) from None


def _verify_job(job: dict[str, Any], job_path: Path, base: Path | None) -> list[FileCheck]:
    """The job file, then each entry that wrote a manifest: that manifest (its sha256 as the job recorded it),
    its agreement with the job manifest's summary of the entry, and every file it names."""
    folder = base if base is not None else job_path.parent
    f, entries = check_job_manifest(job, str(job_path))
    checks = [check_file("job", job["job"]["path"], job["job"]["sha256"], folder)]
    if checks[0].status == "ok":
        _check_job_file(f, job, entries, Path(checks[0].resolved))
    for i, entry in enumerate(entries):
        if entry["status"] in ("failed", "not_run"):
            continue  # the entry wrote no manifest, and the job manifest says why
        ref = str(entry["manifest"])
        _settle(resolve_ref(ref, folder).parent)
        check = check_file(f"entry {entry['id']}", ref, str(entry["manifest_sha256"]), folder)
        checks.append(check)
        if check.status == "missing":
            continue
        entry_manifest = resolve_ref(ref, folder)
        manifest = check_run_manifest(_read_json(entry_manifest), str(entry_manifest))
        check_entry_against(f, entry, i, manifest)
        checks += _verify_run(manifest, str(entry_manifest), entry_manifest.parent)
    return checks


def _check_job_file(f: Fields, job: dict[str, Any], entries: list[dict[str, Any]], path: Path) -> None:
    """The job file (as hashed) names the job and its entries, in order: the job manifest lists each once."""
    from midlayout.errors import DefinitionError
    from midlayout.layout.yamlfile import load_yaml

    try:
        data = load_yaml(path).data
        listed = [e["id"] for e in data["entries"]]
        job_id = data["job"]["id"]
    except (DefinitionError, KeyError, TypeError):
        return  # a job file that no longer loads was not the one hashed: its check says mismatch
    f.equal("job.id", job["job"]["id"], job_id, "the job file")
    f.equal("entries", [e["id"] for e in entries], listed, "the job file's entries")


def as_dicts(checks: list[FileCheck]) -> list[dict[str, Any]]:
    """The checks as plain data (for --json)."""
    return [asdict(c) for c in checks]
