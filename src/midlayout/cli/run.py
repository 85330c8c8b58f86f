"""`midlayout run JOB.yaml`: run a batch job and print an end-of-run summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from midlayout.cli.common import (
    AllowOutside,
    JsonOpt,
    LayoutsDirs,
    MemoryLimitOpt,
    OutputModeOpt,
    OverwriteOpt,
    definitions,
    emit_json,
    guarded,
    progress_bars,
    stdout,
)
from midlayout.layout.job import load_job
from midlayout.pipeline.job import MANIFEST, JobResult, run_job
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.outputset import parse_output_mode
from midlayout.readers import DEFAULT_BATCH_SIZE
from midlayout.writers.registry import options_of

STYLE = {"ok": "green", "rejects": "yellow", "failed": "red", "skipped": "cyan", "not_run": "dim"}


def _summary(result: JobResult, out: Path) -> None:
    table = Table(
        "entry",
        "業務",
        "status",
        "read",
        "written",
        "rejected",
        "outputs",
        "s",
        title=f"job {result.job['id']}",
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
    for e in result.entries:
        if e.error:
            stdout.print(Text.assemble((e.id, "red"), f": {e.error}"), highlight=False)
    stdout.print(
        f"job manifest: {out / MANIFEST}  status: {result.status}  exit code: {result.exit_code}",
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
            help="Continue past a failed entry, or stop (default: the job's on_error).",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip entries whose outputs still match the job manifest.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(help="Records per batch (memory follows this).")
    ] = DEFAULT_BATCH_SIZE,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    memory_limit: str | None = MemoryLimitOpt,
    overwrite: bool = OverwriteOpt,
    output_mode: str = OutputModeOpt,
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
