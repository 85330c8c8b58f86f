"""Run a batch job: every entry through `convert`, a job manifest that links the entry manifests, resume.

The job manifest is rewritten (atomically) after each entry, so an interrupted job can resume: an entry
is skipped when its manifest is intact (same sha256), describes the same data (same run identity: the
inputs, every definition file and the content options) and every file it wrote still has its recorded sha256.

With the local executor the entries run in job-file order, one at a time. With `executor="dask"` one
cluster (the scheduler given, or a LocalCluster of `workers` processes) serves the whole job: the entries
run side by side, one thread each on this machine, at most one per cluster worker, and each entry's
pieces go to the shared client. Each entry has its own output folder, lock and output set; the job
manifest lists the entries in job-file order whichever finished first.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import midlayout
from midlayout import umask
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

if TYPE_CHECKING:
    from midlayout.pipeline.executors import Executor

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
    fatal: bool = field(default=False, repr=False)  # the cluster was lost: no other entry can run


_NOT_IN_MANIFEST = ("fatal",)


@dataclass
class JobResult:
    """The job manifest."""

    job: dict[str, str]
    tool: dict[str, str]
    started: str
    finished: str | None = None
    status: str = "running"
    exit_code: int | None = None
    # What ran the entries' batches: executor, scheduler, workers (like each entry manifest's `executor`)
    executor: dict[str, Any] = field(default_factory=dict)
    entries: list[EntryResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for e in out["entries"]:
            for key in _NOT_IN_MANIFEST:
                e.pop(key, None)
        return out


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


def _run_entry(
    entry: JobEntry,
    out: Path,
    options: ConvertOptions,
    progress: Progress | None,
    executor: Executor | None = None,
) -> EntryResult:
    from midlayout.pipeline.executors.dask import ExecutorLost

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
        converted = convert(mappings, list(entry.inputs), out, entry_options, progress, executor)
    except MidlayoutError as exc:
        result.status, result.exit_code, result.error = "failed", exc.exit_code, str(exc)
        result.fatal = isinstance(exc, ExecutorLost)
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
    rejects are not failures: the job goes on, and its exit code is 1. `options` (batch size, workers,
    memory limit, overwrite, output mode, executor, ...) apply to every entry; each entry names its own
    writers and their options. A second job into the same `out` meanwhile is refused (exit 2).

    With `options.executor == "dask"` the entries run side by side on one cluster for the whole job (see
    the module's docstring); a failed entry under fail-fast stops the entries not yet started (those
    running finish), and a lost cluster stops the job (exit 3).
    """
    options = options or ConvertOptions()
    out = out or job.out
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with locked(out), _entries_runner(options) as runner:
            return _run_job(job, out, keep_going, resume, options, progress, runner)
    except BaseException:
        if created:  # e.g. a scheduler it cannot reach: no empty folder left behind as if something ran
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


@dataclass
class _Runner:
    """How the job's entries run: `run` one entry, up to `parallel` at a time; `abort` makes the entries
    running stop at their next piece (the cluster session closes); `executor`: the job manifest's fields."""

    run: Callable[[JobEntry, Path, Progress | None], EntryResult]
    parallel: int
    executor: dict[str, Any]
    abort: Callable[[], None] = lambda: None


@contextmanager
def _entries_runner(options: ConvertOptions) -> Iterator[_Runner]:
    """The entries' runner for the options' executor: local (one at a time), or one dask session."""
    if options.executor != "dask":
        yield _Runner(
            lambda entry, out, progress: _run_entry(entry, out, options, progress),
            1,
            {"executor": options.executor, "scheduler": None, "workers": options.workers},
        )
        return
    from midlayout.pipeline.executors.dask import DaskExecutor

    with DaskExecutor.session(options.scheduler, options.workers) as client:
        workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))

        def run(entry: JobEntry, out: Path, progress: Progress | None) -> EntryResult:
            executor = DaskExecutor(options.scheduler, options.workers, client=client)
            return _run_entry(entry, out, options, progress, executor)

        executor = {"executor": "dask", "scheduler": options.scheduler, "workers": workers}
        yield _Runner(run, max(1, workers), executor, client.close)


def _run_job(
    job: Job,
    out: Path,
    keep_going: bool | None,
    resume: bool,
    options: ConvertOptions,
    progress: Progress | None,
    runner: _Runner,
) -> JobResult:
    previous = _previous(out) if resume else {}
    go_on = keep_going if keep_going is not None else job.on_error == "continue"
    result = JobResult(
        job={"id": job.id, "path": portable_ref(job.path, out), "sha256": job.sha256},
        tool={"name": "midlayout", "version": midlayout.__version__},
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        executor=runner.executor,
    )
    done: list[EntryResult | None] = [None] * len(job.entries)

    def entry_task(i: int, shown: Progress | None) -> EntryResult:
        entry = job.entries[i]
        if resume and _up_to_date(entry, previous.get(entry.id), options, out):
            return _skipped(entry, previous[entry.id], out / entry.id)
        return runner.run(entry, out / entry.id, shown)

    def record() -> None:
        """The job manifest as it stands: finished entries, in job-file order."""
        result.entries = [e for e in done if e is not None]
        write_atomic(out / MANIFEST, _json(result), _job_manifest_mode())

    if runner.parallel == 1:
        stopped = False
        for i in range(len(job.entries)):
            if not stopped:
                done[i] = entry_task(i, progress)
                stopped = _stops(done[i], go_on)
                record()
            else:
                done[i] = _not_run(job.entries[i], out)
    else:
        _side_by_side(job, done, entry_task, record, runner, go_on, progress)
        for i, entry in enumerate(job.entries):
            if done[i] is None:
                done[i] = _not_run(entry, out)
    codes = [e.exit_code for e in done if e is not None]
    failed = [e for e in done if e is not None and e.status == "failed"]
    result.exit_code = max(codes, default=0)
    result.status = "failed" if failed else ("rejects" if result.exit_code else "ok")
    result.finished = datetime.now(UTC).isoformat(timespec="seconds")
    record()
    return result


def _side_by_side(
    job: Job,
    done: list[EntryResult | None],
    entry_task: Callable[[int, Progress | None], EntryResult],
    record: Callable[[], None],
    runner: _Runner,
    go_on: bool,
    progress: Progress | None,
) -> None:
    """Up to `parallel` entries at a time, each in a thread with a copy of this thread's context (layout
    search path, definition policy), started in job-file order; the job manifest rewritten as each
    finishes. After a stop (fail-fast, a lost cluster), entries not started stay None (`not_run`)."""
    parallel = runner.parallel
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="midlayout-entry")
    running: dict[Future[EntryResult], int] = {}
    following = iter(range(len(job.entries)))
    stopped = False

    def collect(futures: set[Future[EntryResult]]) -> None:
        nonlocal stopped
        for future in futures:
            i = running.pop(future)
            done[i] = future.result()
            stopped = stopped or _stops(done[i], go_on)

    try:
        while True:
            while not stopped and len(running) < parallel:
                i = next(following, None)
                if i is None:
                    break
                shown = _entry_progress(progress, job.entries[i].id)
                running[pool.submit(contextvars.copy_context().run, entry_task, i, shown)] = i
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            collect(finished)
            record()
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): no entry starts any more; those running stop at their next piece
        # once the cluster session is closed (each cleans up its output set as a failed run does), or
        # finish; what finished is recorded, the failed ones too (--resume runs them again).
        pool.shutdown(wait=False, cancel_futures=True)
        runner.abort()
        pool.shutdown(wait=True)
        cut = [i for f, i in running.items() if not f.cancelled() and f.exception() is None]
        collect({f for f in running if not f.cancelled() and f.exception() is None})
        for i in cut:
            result = done[i]
            if result is not None and result.status == "failed":  # its cluster closed under it
                result.error = "stopped before it finished: the job was interrupted (--resume runs it again)"
        record()
        raise
    pool.shutdown(wait=True)


def _stops(result: EntryResult | None, go_on: bool) -> bool:
    return result is not None and result.status == "failed" and (result.fatal or not go_on)


def _not_run(entry: JobEntry, out: Path) -> EntryResult:
    return EntryResult(entry.id, "not_run", 0, municipality=entry.municipality, out=str(out / entry.id))


def _entry_progress(progress: Progress | None, entry_id: str) -> Progress | None:
    """The entry's own view of the display (bars named after it), when the display offers one."""
    view = getattr(progress, "entry", None)
    return view(entry_id) if view is not None else progress


def _job_manifest_mode() -> int:
    """The job manifest's file mode: as the user's umask gives it, also while entries in other threads
    hold the private umask."""
    return 0o666 & ~umask.user()


def _json(result: JobResult) -> bytes:
    return (json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
