"""Run a batch job: every entry through `convert`, a job manifest that links the entry manifests, resume.

The job manifest is rewritten (atomically) after each entry, so an interrupted job can resume: an entry
is skipped when its manifest is intact (same sha256), describes the same data (same run identity: the
inputs, every definition file and the content options) and every file it wrote still has its recorded sha256.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import midlayout
from midlayout.errors import MidlayoutError
from midlayout.layout.bundled import portable_ref, resolve_ref
from midlayout.layout.job import Job, JobEntry
from midlayout.layout.mapping import load_mapping
from midlayout.layout.standard import sha256_file
from midlayout.pipeline.convert import Progress, convert, plan_run_id
from midlayout.pipeline.lock import locked
from midlayout.pipeline.manifest import load_manifest, write_atomic
from midlayout.pipeline.options import DEFAULT_WRITERS, ConvertOptions
from midlayout.writers.base import sha256_path

MANIFEST = "job-manifest.json"


@dataclass
class EntryResult:
    """What happened to one entry."""

    id: str
    status: str  # ok | rejects | failed | skipped (up to date, with --resume) | not_run (after a stop)
    exit_code: int
    gyomu: list[str] = field(default_factory=list)
    municipality: str | None = None
    out: str = ""
    manifest: str | None = None
    manifest_sha256: str | None = None
    run_id: str | None = None
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class JobResult:
    """The job manifest."""

    job: dict[str, str]
    tool: dict[str, str]
    started: str
    finished: str | None = None
    status: str = "running"
    exit_code: int | None = None
    entries: list[EntryResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _previous(out: Path) -> dict[str, dict[str, Any]]:
    path = out / MANIFEST
    if not path.is_file():
        return {}
    return {e["id"]: e for e in load_manifest(path).get("entries", [])}


def _up_to_date(entry: JobEntry, prev: dict[str, Any] | None, options: ConvertOptions, out: Path) -> bool:
    """The earlier result of this entry still stands: same data, intact manifest and outputs."""
    if not prev or prev.get("status") not in ("ok", "rejects", "skipped") or not prev.get("manifest"):
        return False
    path = resolve_ref(str(prev["manifest"]), out)
    if not path.is_file() or sha256_file(path) != prev.get("manifest_sha256"):
        return False
    try:
        current = plan_run_id([load_mapping(p) for p in entry.mappings], list(entry.inputs), options)
    except MidlayoutError:
        return False
    manifest = load_manifest(path)
    if manifest.get("run_id") != current:
        return False
    files = [o for o in manifest.get("outputs", []) if o.get("sha256")]
    paths = [resolve_ref(str(o["path"]), path.parent) for o in files]
    return all(p.exists() and sha256_path(p) == o["sha256"] for p, o in zip(paths, files, strict=True))


def _output_summary(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "writer": o["writer"],
            "target": o["target"],
            "rows": o["rows"],
            "path": o["path"],
            **({"status": o["details"]["status"]} if o.get("details", {}).get("status") else {}),
        }
        for o in outputs
    ]


def _run_entry(entry: JobEntry, out: Path, options: ConvertOptions, progress: Progress | None) -> EntryResult:
    result = EntryResult(entry.id, "running", 0, municipality=entry.municipality, out=str(out))
    t0 = time.perf_counter()
    try:
        mappings = [load_mapping(p) for p in entry.mappings]
        result.gyomu = sorted({m.target.gyomu for m in mappings})
        entry_options = replace(
            options,
            writers=tuple(entry.writers) or DEFAULT_WRITERS,  # no writers named: what convert writes
            writer_options={k: v for k, v in entry.writers.items() if v},
        )
        converted = convert(mappings, list(entry.inputs), out, entry_options, progress)
    except MidlayoutError as exc:
        result.status, result.exit_code, result.error = "failed", exc.exit_code, str(exc)
    except Exception as exc:  # noqa: BLE001 (one entry's bug is reported, and the job decides whether to go on)
        result.status, result.exit_code, result.error = (
            "failed",
            3,
            f"internal error: {type(exc).__name__}: {exc}",
        )
    else:
        m = converted.manifest
        manifest_path = out / "manifest.json"
        result.status = m.status
        result.exit_code = m.exit_code or 0
        # relative to the job manifest's folder (out/..), as each entry's manifest records its own files
        result.manifest = portable_ref(manifest_path, out.parent)
        result.manifest_sha256 = sha256_file(manifest_path)
        result.run_id = m.run_id
        result.records_read = sum(i.records_read for i in m.inputs)
        result.records_written = sum(i.records_written for i in m.inputs)
        result.records_rejected = sum(i.records_rejected for i in m.inputs)
        result.outputs = _output_summary(m.to_dict(out.parent)["outputs"])
    result.seconds = round(time.perf_counter() - t0, 3)
    return result


def _skipped(entry: JobEntry, prev: dict[str, Any], out: Path) -> EntryResult:
    return EntryResult(
        entry.id,
        "skipped",
        1 if prev.get("records_rejected") else 0,
        gyomu=list(prev.get("gyomu", [])),
        municipality=entry.municipality,
        out=str(out),
        manifest=prev["manifest"],
        manifest_sha256=prev["manifest_sha256"],
        run_id=prev.get("run_id"),
        records_read=int(prev.get("records_read", 0)),
        records_written=int(prev.get("records_written", 0)),
        records_rejected=int(prev.get("records_rejected", 0)),
        outputs=list(prev.get("outputs", [])),
    )


def run_job(
    job: Job,
    out: Path | None = None,
    keep_going: bool | None = None,
    resume: bool = False,
    options: ConvertOptions | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Run every entry of `job` into `out/<entry id>/`; write `out/job-manifest.json` after each entry.

    `keep_going` overrides the job's `on_error` (stop after a failed entry, or continue). Entries with
    rejects are not failures: the job goes on, and its exit code is 1. `options` (batch size, memory
    limit, overwrite, output mode, ...) apply to every entry; each entry names its own writers and their
    options. A second job into the same `out` meanwhile is refused (exit 2).
    """
    options = options or ConvertOptions()
    out = out or job.out
    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        return _run_job(job, out, keep_going, resume, options, progress)


def _run_job(
    job: Job,
    out: Path,
    keep_going: bool | None,
    resume: bool,
    options: ConvertOptions,
    progress: Progress | None,
) -> JobResult:
    previous = _previous(out) if resume else {}
    go_on = keep_going if keep_going is not None else job.on_error == "continue"
    result = JobResult(
        job={"id": job.id, "path": portable_ref(job.path, out), "sha256": job.sha256},
        tool={"name": "midlayout", "version": midlayout.__version__},
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    stopped = False
    for entry in job.entries:
        entry_out = out / entry.id
        if stopped:
            result.entries.append(
                EntryResult(entry.id, "not_run", 0, municipality=entry.municipality, out=str(entry_out))
            )
        elif resume and _up_to_date(entry, previous.get(entry.id), options, out):
            result.entries.append(_skipped(entry, previous[entry.id], entry_out))
        else:
            result.entries.append(_run_entry(entry, entry_out, options, progress))
            stopped = result.entries[-1].status == "failed" and not go_on
        write_atomic(out / MANIFEST, _json(result))
    codes = [e.exit_code for e in result.entries]
    failed = [e for e in result.entries if e.status == "failed"]
    result.exit_code = max(codes, default=0)
    result.status = "failed" if failed else ("rejects" if result.exit_code else "ok")
    result.finished = datetime.now(UTC).isoformat(timespec="seconds")
    write_atomic(out / MANIFEST, _json(result))
    return result


def _json(result: JobResult) -> bytes:
    return (json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
