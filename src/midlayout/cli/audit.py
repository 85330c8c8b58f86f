"""`midlayout reconcile`, `midlayout verify` and `midlayout rejects-report`: thin commands over midlayout.audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from midlayout.audit import html
from midlayout.audit.from_manifest import reconcile_run
from midlayout.audit.outputs import write_json, write_text_atomic
from midlayout.audit.reconcile import Tolerances, certificate, delivery
from midlayout.audit.rejects import summarise
from midlayout.audit.verify import as_dicts, verify
from midlayout.cli.common import (
    FLAG,
    FOUND,
    OK,
    AllowOutside,
    JsonOpt,
    LayoutsDirs,
    definitions,
    emit_json,
    guarded,
    phases,
    stdout,
)
from midlayout.cli.messages import t
from midlayout.errors import UsageError
from midlayout.layout.registry import resolve
from midlayout.outpaths import out_file

ShowValues = typer.Option(False, "--show-values", metavar=FLAG, help="Print personal values instead of ●●●.")
MemoryLimit = typer.Option(
    "2GB", "--memory-limit", help="DuckDB memory limit; beyond it work spills to disk."
)


def _across(
    mapping: list[Path], left: str, right: str, tol: Tolerances, step: Any, limit: str
) -> dict[str, Any]:
    """Two deliveries in different standard layouts, compared through the mappings between them."""
    import tempfile

    from midlayout.audit.across import across_sides

    with tempfile.TemporaryDirectory(prefix="midlayout-across-") as tmp:
        lside, rside = across_sides(mapping, left, right, Path(tmp), step)
        return certificate(lside, rside, tol, step, limit)


def _print_certificate(cert: dict[str, Any], out: Path | None) -> None:
    table = Table(title=f"reconcile: {cert['left']['label']} ⇔ {cert['right']['label']}")
    for name in ("file", "figure", "left", "right", "diff", "result"):
        table.add_column(name, overflow="fold")
    for c in cert["checks"]:
        table.add_row(
            c["file"],
            c["label"],
            str(c["left"]),
            str(c["right"]),
            str(c["difference"]),
            "pass" if c["passed"] else "FAIL",
        )
    stdout.print(table)
    if out:
        stdout.print(f"wrote {out / 'reconcile.json'} and {out / 'reconcile.html'}")
    stdout.print("PASS" if cert["passed"] else f"FAIL ({cert['failed']} figure(s) differ)")


def reconcile_cmd(
    left: Annotated[
        str, typer.Argument(help="A convert manifest.json, or the first delivery (folder, .duckdb or file).")
    ],
    right: Annotated[str | None, typer.Argument(help="The second delivery (omit with a manifest).")] = None,
    layout: Annotated[
        str | None, typer.Option("--layout", "-l", help="ID@VERSION of the deliveries.")
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option("--tolerance", help="KIND=VALUE; kinds records, persons, amount, code."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the certificate (reconcile.json, reconcile.html) here."),
    ] = None,
    memory_limit: str = MemoryLimit,
    mapping: Annotated[
        list[Path] | None,
        typer.Option(
            "--mapping",
            "-m",
            help="Two deliveries in different layouts: the mapping(s) from LEFT's layout to RIGHT's.",
        ),
    ] = None,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> None:
    """Compare counts, persons, amount totals and code counts; write a certificate. Exit 1 when a figure fails."""

    @guarded
    @definitions(layouts_dir, allow_outside_definitions)
    def run() -> int:
        tol = Tolerances.parse(tolerance or [])
        with phases(not as_json) as step:
            if right is None:
                cert = reconcile_run(Path(left), tol, step, memory_limit)
            elif mapping:
                cert = _across(mapping, left, right, tol, step, memory_limit)
            else:
                if not layout:
                    raise UsageError("comparing two deliveries needs --layout ID@VERSION (or --mapping)")
                lay = resolve(layout)
                cert = certificate(delivery(left, lay), delivery(right, lay), tol, step, memory_limit)
        if out:
            write_json(out / "reconcile.json", cert)
            write_text_atomic(out / "reconcile.html", html.reconcile_report(cert))
        emit_json(cert) if as_json else _print_certificate(cert, out)
        return OK if cert["passed"] else FOUND

    run()


def verify_cmd(
    manifest: Annotated[
        Path,
        typer.Argument(help="manifest.json written by convert or validate, or a run's job-manifest.json."),
    ],
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            help="Resolve relative paths against this folder (default: the manifest's own folder); for a moved tree.",
        ),
    ] = None,
    as_json: bool = JsonOpt,
) -> None:
    """Re-hash every layout, mapping, input and output the manifest names. Exit 0 only when all match."""

    @guarded
    def run() -> int:
        checks = verify(manifest, base)
        bad = [c for c in checks if c.status != "ok"]
        if as_json:
            emit_json({"manifest": str(manifest), "ok": not bad, "files": as_dicts(checks)})
        else:
            for c in checks:
                detail = ""
                if c.status == "mismatch" and c.actual:
                    detail = f"  (expected {c.expected[:12]}…, got {c.actual[:12]}…)"
                elif c.status == "missing":
                    detail = f"  ({c.reason})"
                stdout.print(f"{c.status:8} {c.role:7} {c.path}{detail}")
            stdout.print(
                t("{ok} of {n} files match", ok=len(checks) - len(bad), n=len(checks))
                + ("" if not bad else t("; {bad} do not", bad=len(bad)))
            )
        return FOUND if bad else OK

    run()


def rejects_report_cmd(
    rejects: Annotated[Path, typer.Argument(help="rejects.parquet from convert or validate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")],
    layout: Annotated[
        list[str] | None, typer.Option("--layout", "-l", help="ID@VERSION for 項目名称 (repeat).")
    ] = None,
    show_values: bool = ShowValues,
    layouts_dir: LayoutsDirs = None,
    as_json: bool = JsonOpt,
) -> None:
    """Write a self-contained HTML report of rejects: by reason, by item, by file."""

    @guarded
    @definitions(layouts_dir)
    def run() -> int:
        out_file(out)
        summary = summarise(rejects, [resolve(ref) for ref in layout or []], show_values)
        write_text_atomic(out, html.rejects_report(summary))
        if as_json:
            emit_json(summary)
        else:
            stdout.print(
                t(
                    "{rows} rejects in {records} records; wrote {out}",
                    rows=f"{summary['rows']:,}",
                    records=f"{summary['records']:,}",
                    out=out,
                )
            )
        return OK

    run()
