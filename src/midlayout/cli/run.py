"""`midlayout run JOB.yaml`: run a batch job and print an end-of-run summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from midlayout.cli.common import (
    FLAG,
    AllowOutside,
    ExecutorOpt,
    JsonOpt,
    LayoutsDirs,
    MemoryLimitOpt,
    OutputModeOpt,
    OverwriteOpt,
    SchedulerOpt,
    definitions,
    emit_json,
    guarded,
    progress_bars,
    stderr,
    stdout,
)
from midlayout.cli.messages import error_text, t
from midlayout.layout.job import load_job
from midlayout.pipeline.job import MANIFEST, JobResult, run_job
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.outputset import parse_output_mode
from midlayout.readers import DEFAULT_BATCH_SIZE
from midlayout.writers.registry import options_of

STYLE = {"ok": "green", "rejects": "yellow", "failed": "red", "skipped": "cyan", "not_run": "dim"}


def _summary(result: JobResult, out: Path) -> None:
    table = Table(
        t("entry"),
        "業務",
        t("status"),
        t("read"),
        t("written"),
        t("rejected"),
        t("outputs"),
        "s",
        title=t("job {id}", id=result.job["id"]),
    )
    for e in result.entries:
        outputs = sorted({o["writer"] + (f" ({o['status']})" if o.get("status") else "") for o in e.outputs})
        table.add_row(
            e.id,
            ", ".join(e.gyomu),
            Text(e.status, style=STYLE.get(e.status, "")),
            str(e.records_read),
            str(e.records_written),
            str(e.records_rejected),
            ", ".join(outputs),
            f"{e.seconds:.1f}",
        )
    stdout.print(table)
    for e in result.entries:  # a failed entry's error is an error: stderr, one line each
        if e.error:
            stderr.print(f"{t('error:')} {e.id}: {error_text(e.error)}", highlight=False)
    stdout.print(
        t(
            "job manifest: {path}  status: {status}  exit code: {code}",
            path=out / MANIFEST,
            status=result.status,
            code=result.exit_code,
        ),
        highlight=False,
    )


def run_cmd(
    job_file: Annotated[
        Path, typer.Argument(help="Job YAML listing the entries (mappings, inputs, writers).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: the job's `out`).")
    ] = None,
    keep_going: Annotated[
        bool | None,
        typer.Option(
            "--keep-going/--fail-fast",
            metavar=FLAG,
            help="Continue past a failed entry, or stop (default: the job's on_error).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", metavar=FLAG, help="Skip entries whose outputs still match the job manifest."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(help="Records per batch (memory follows this).")
    ] = DEFAULT_BATCH_SIZE,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    memory_limit: str | None = MemoryLimitOpt,
    overwrite: bool = OverwriteOpt,
    output_mode: str = OutputModeOpt,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Workers for each entry's read/map/validate: threads, or spawned processes with "
            "MIDLAYOUT_LOCAL_POOL=processes (default: one per CPU for inputs over 64 MB); "
            "entries run one at a time in job-file order. With --executor dask and no --scheduler: the "
            "LocalCluster's size (default one per CPU), shared by the job; entries run side by side, up to "
            "one per cluster worker. Same outputs whatever the number.",
        ),
    ] = None,
    executor: str = ExecutorOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run a batch job: many conversions and loads, one job manifest, one summary."""

    @guarded
    @definitions(layouts_dir, allow_outside_definitions)
    def run() -> int:
        options = ConvertOptions(
            batch_size=batch_size,
            memory_limit=memory_limit,
            overwrite=overwrite,
            output_mode=parse_output_mode(output_mode),
            workers=workers,
            executor=executor,
            scheduler=scheduler,
        )
        job = load_job(job_file, options_of)
        with progress_bars(not as_json) as bars:
            result = run_job(job, out, keep_going, resume, options, bars)
        if as_json:
            emit_json(result.to_dict())
        else:
            _summary(result, out or job.out)
        return result.exit_code or 0

    run()
