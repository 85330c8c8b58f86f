"""Re-hash every input and output a convert manifest names, and report each mismatch or missing file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from midlayout.errors import InputError, Location
from midlayout.layout.bundled import resolve_ref
from midlayout.layout.standard import sha256_file
from midlayout.pipeline.manifest import load_manifest


@dataclass(frozen=True)
class FileCheck:
    """One file of a manifest: its role, the recorded and the actual sha256, and the verdict."""

    role: str
    path: str
    expected: str
    actual: str | None
    status: str  # "ok", "mismatch" or "missing"


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


def named_files(manifest: dict[str, Any], where: str) -> list[tuple[str, str, str]]:
    """(role, path, sha256) of every definition file, layout, mapping, input and output the manifest names.

    A definition's role is its kind (`definition:code_map`, `definition:source_layout`, ...).
    """
    found = []
    for i, entry in enumerate(manifest.get("definitions", [])):
        if not isinstance(entry, dict) or not entry.get("path") or not entry.get("sha256"):
            raise InputError(f"definition entry {i} has no path or sha256", Location(file=where))
        found.append((f"definition:{entry.get('kind', '?')}", str(entry["path"]), str(entry["sha256"])))
    for role, entries in (
        ("layout", manifest.get("layouts", [])),
        ("mapping", manifest.get("mappings", [])),
        ("input", manifest["inputs"]),
        ("output", manifest["outputs"]),
    ):
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry.get("path") or not entry.get("sha256"):
                raise InputError(f"{role} entry {i} has no path or sha256", Location(file=where))
            found.append((role, str(entry["path"]), str(entry["sha256"])))
    return found


def _resolve(path: str, base: Path | None) -> Path:
    return resolve_ref(path, base)


def check_file(role: str, path: str, expected: str, base: Path | None = None) -> FileCheck:
    """Hash one file and compare it with the recorded digest."""
    from midlayout.writers.base import sha256_path

    real = _resolve(path, base)
    if not (real.is_file() or (role == "output" and real.is_dir())):  # a partitioned Parquet is a folder
        return FileCheck(role, path, expected, None, "missing")
    actual = sha256_path(real) if real.is_dir() else sha256_file(real)
    return FileCheck(role, path, expected, actual, "ok" if actual == expected else "mismatch")


def verify(manifest_path: Path, base: Path | None = None) -> list[FileCheck]:
    """Check every file the manifest names; relative paths resolve against `base` (default: the current folder).

    >>> # [c for c in verify(Path("out/manifest.json")) if c.status != "ok"]  -> [] when intact
    """
    _settle(manifest_path.parent)
    manifest = read_manifest(manifest_path)
    checks = [
        check_file(role, path, sha, base) for role, path, sha in named_files(manifest, str(manifest_path))
    ]
    return checks + content_checks(manifest, base)


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


def content_checks(manifest: dict[str, Any], base: Path | None = None) -> list[FileCheck]:
    """Re-hash the tables of each DuckDB output whose manifest entry records a `content_sha256`."""
    from midlayout.writers.duckdb_content import content_sha256

    checks = []
    for o in manifest["outputs"]:
        expected = (o.get("details") or {}).get("content_sha256") if isinstance(o, dict) else None
        if not expected:
            continue
        real = _resolve(str(o["path"]), base)
        if not real.is_file():
            checks.append(FileCheck("output-content", str(o["path"]), expected, None, "missing"))
            continue
        try:
            actual = content_sha256(real)
        except Exception:  # noqa: BLE001 - not a readable database: its content does not match
            actual = "unreadable"
        checks.append(
            FileCheck(
                "output-content", str(o["path"]), expected, actual, "ok" if actual == expected else "mismatch"
            )
        )
    return checks


def as_dicts(checks: list[FileCheck]) -> list[dict[str, Any]]:
    """The checks as plain data (for --json)."""
    return [asdict(c) for c in checks]
