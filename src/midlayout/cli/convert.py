"""`midlayout convert` and `midlayout validate`."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from midlayout.cli.common import (
    FOUND,
    OK,
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
    writer_options,
)
from midlayout.cli.messages import t
from midlayout.errors import UsageError
from midlayout.layout.gaiji import load_gaiji_table
from midlayout.layout.mapping import load_mapping
from midlayout.layout.registry import resolve
from midlayout.pipeline.convert import ConvertResult, convert
from midlayout.pipeline.identity import files_for_inputs, identity_mapping, only_files
from midlayout.pipeline.options import DEFAULT_WRITERS, ConvertOptions
from midlayout.pipeline.outputset import parse_output_mode
from midlayout.readers import DEFAULT_BATCH_SIZE


def _summary(result: ConvertResult, title: str, kept: bool = True) -> None:
    m = result.manifest
    table = Table(t("input"), t("read"), t("written"), t("rejected"), title=title)
    for i in m.inputs:
        table.add_row(Path(i.path).name, str(i.records_read), str(i.records_written), str(i.records_rejected))
    stdout.print(table)
    if m.rejects.get("by_rule"):
        rules = Table(t("stage"), t("rule"), t("count"), title=t("rejects by rule"))
        for r in m.rejects["by_rule"]:  # type: ignore[union-attr]
            rules.add_row(r["stage"], r["rule"], str(r["count"]))
        stdout.print(rules)
    _unmapped_codes(result.unmapped)
    _text_summary(m.text)
    partial = m.text.get("dates", {}).get("partial_null", {})
    for item, n in partial.items():
        if n:
            stdout.print(f"dates accepted as null with their known parts lost (partial: null): {item} {n}")
    for o in m.outputs:
        d = o.get("details") or {}
        if d.get("status"):
            stdout.print(
                f"{o['writer']}: {o['target']} → {d['schema']}.{d['table']} ({d['mode']}): {d['status']}, "
                f"{d['rows_in_load']} rows",
                highlight=False,
            )
    for u in m.unchecked:
        stderr.print(
            t("warning: reference not checked (its target is not in this run): {ref}", ref=u),
            highlight=False,
            markup=False,
        )
    stdout.print(
        t(
            "manifest: {path}  (records read = written + rejected: checked)",
            path=result.out_dir / "manifest.json",
        )
        if kept
        else t("records read = written + rejected: checked (no --out: nothing kept)")
    )


def _unmapped_codes(counts: pl.DataFrame) -> None:
    """The DISTINCT vendor codes no code map holds, with counts (aggregates, not record-level values)."""
    if not counts.height:
        return
    table = Table("item", "code map", "code", "records", title="unmapped vendor codes (distinct)")
    for item, code_map, code, n in counts.iter_rows():
        table.add_row(item or "", code_map or "", code or "", str(n))
    stdout.print(table)


def _text_summary(text: dict) -> None:
    """外字 and repertoire findings by code (codes only, never values)."""
    codes = text.get("gaiji", {}).get("codes", [])
    if codes:
        table = Table("code", "char", "status", "action", "count", "records", title="外字 (gaiji-report.csv)")
        for c in codes:
            table.add_row(c["code"], c["char"], c["status"], c["action"], str(c["count"]), str(c["records"]))
        stdout.print(table)
    chars = text.get("repertoire", {}).get("chars", [])
    if chars:
        table = Table(
            "char",
            "code",
            "outside",
            "count",
            "suggestions (not applied)",
            title="outside the target repertoire (repertoire-report.csv)",
        )
        for c in chars:
            table.add_row(c["char"], c["code"], c["outside"], str(c["count"]), c["suggestions"])
        stdout.print(table)


def convert_cmd(
    inputs: Annotated[
        list[str], typer.Argument(help="Input files; PATH (matched by the source layout) or SOURCE=PATH.")
    ],
    mapping: Annotated[
        list[Path], typer.Option("--mapping", "-m", help="Mapping YAML (repeat for several 業務).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    writer: Annotated[
        list[str] | None,
        typer.Option(
            "--writer",
            "-w",
            help="Writer name, repeatable (default: parquet, duckdb, standard; see `midlayout writers list`).",
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-O", help="Writer option WRITER.KEY=VALUE, repeatable (e.g. postgres.mode=upsert)."
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Records per batch (memory follows this).")
    ] = DEFAULT_BATCH_SIZE,
    gaiji: Annotated[
        Path | None,
        typer.Option("--gaiji", help="外字 table CSV (code,replacement,mj,note); overrides the mapping's."),
    ] = None,
    gaiji_unmapped: Annotated[
        str | None,
        typer.Option(
            "--gaiji-unmapped",
            metavar="reject|flag",
            help="Unmapped 外字: reject the record, or flag (keep it, report it). Default: the mapping's.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Workers for read/map/validate: threads of this process, or spawned processes with MIDLAYOUT_LOCAL_POOL=processes (default: one per CPU for inputs over 64 MB; with --executor dask and no --scheduler, the LocalCluster's size, default one per CPU). Same output whatever the number.",
        ),
    ] = None,
    executor: str = ExecutorOpt,
    scheduler: str | None = SchedulerOpt,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    memory_limit: str | None = MemoryLimitOpt,
    overwrite: bool = OverwriteOpt,
    output_mode: str = OutputModeOpt,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", metavar="", help="Accept an input of 0 bytes (else exit 2).")
    ] = False,
    max_reject_rate: Annotated[
        float,
        typer.Option(
            "--max-reject-rate",
            help="Stop (exit 2) when, after 200 records of an input, more than this share fail to decode "
            "while another encoding decodes 99% of them.",
        ),
    ] = 0.5,
    as_json: bool = JsonOpt,
) -> None:
    """Convert vendor extracts through mappings into the intermediate standard layout."""

    @guarded
    @definitions(layouts_dir, allow_outside_definitions)
    def run() -> int:
        options = ConvertOptions(
            tuple(writer or DEFAULT_WRITERS),
            writer_options(option),
            batch_size,
            workers,
            gaiji_unmapped=gaiji_unmapped,
            memory_limit=memory_limit,
            overwrite=overwrite,
            output_mode=parse_output_mode(output_mode),
            allow_empty=allow_empty,
            max_reject_rate=max_reject_rate,
            executor=executor,
            scheduler=scheduler,
        )
        if gaiji:
            options = replace(options, gaiji_table=load_gaiji_table(gaiji))
        mappings = [load_mapping(p) for p in mapping]
        with progress_bars(not as_json) as bars:
            result = convert(mappings, inputs, out, options, bars)
        if as_json:
            emit_json(result.manifest.to_dict(result.out_dir))
        else:
            _summary(result, t("convert"))
        return FOUND if result.rejected or result.flagged else OK

    run()


def validate_cmd(
    files: Annotated[
        list[str], typer.Argument(help="Standard CSV files of a delivery (<file>.csv or FILE=PATH).")
    ],
    layout: Annotated[str, typer.Option("--layout", "-l", help="ID@VERSION, e.g. chukan/juki@2.5")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write rejects and manifest here.")] = None,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> None:
    """Check a delivery already in the intermediate layout: types, 桁数, codes, keys, references."""

    @guarded
    @definitions(layouts_dir, allow_outside_definitions)
    def run() -> int:
        lay = resolve(layout)
        ids = files_for_inputs(lay, files)
        if not ids:
            raise UsageError(
                f"none of the inputs is a file of {lay.ref} ({', '.join(f.id for f in lay.files)})"
            )
        mapping = only_files(identity_mapping(lay), ids)
        with tempfile.TemporaryDirectory() as tmp, progress_bars(not as_json) as bars:
            options = ConvertOptions(writers=(), validator="pandera")
            result = convert([mapping], files, out or Path(tmp), options, bars)
            if as_json:
                emit_json(result.manifest.to_dict(out) if out else result.manifest.to_dict())
            else:
                _summary(result, t("validate {ref}", ref=lay.ref), kept=out is not None)
        return FOUND if result.rejected else OK

    run()
