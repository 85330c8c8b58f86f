"""`midlayout diff`: keyed diff of two extracts of one layout file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from midlayout.audit.diff import DiffOptions, diff
from midlayout.audit.inputs import Normalise, locate
from midlayout.cli.common import (
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
from midlayout.errors import UsageError
from midlayout.layout.registry import resolve

ShowValues = typer.Option(
    False,
    "--show-values",
    metavar="",
    help="Print personal values (names, addresses, amounts) instead of ●●●.",
)
MemoryLimit = typer.Option(
    "2GB", "--memory-limit", help="DuckDB memory limit; beyond it work spills to disk."
)


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(i.strip() for i in (text or "").split(",") if i.strip())


def _print(summary: dict[str, Any]) -> None:
    table = Table(
        "class",
        "rows",
        title=f"diff {summary['layout']}:{summary['file']['id']}  key={'+'.join(summary['key'])}",
    )
    for name, n in summary["counts"].items():
        table.add_row(name, f"{n:,}")
    stdout.print(table)
    if summary["changes_by_item"]:
        items = Table("item", "項目名称", "changed", title="changes by item")
        for c in summary["changes_by_item"]:
            items.add_row(c["item"], c["name"], f"{c['count']:,}")
        stdout.print(items)
    for path in summary.get("outputs", []):
        stdout.print(f"wrote {path}")
    stdout.print("identical" if summary["identical"] else "differences found")


def diff_cmd(
    before: Annotated[
        str, typer.Argument(help="Before: FILE.csv (standard file), FILE.parquet or DB.duckdb:GYOMU.FILE")
    ],
    after: Annotated[str, typer.Argument(help="After, in any of the same forms.")],
    layout: Annotated[str, typer.Option("--layout", "-l", help="ID@VERSION, e.g. chukan/juki@2.5")],
    key: Annotated[
        str | None,
        typer.Option("--key", "-k", help="Key items, comma-separated (default: the layout's key)."),
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Layout file id (default: inferred from the header/columns).")
    ] = None,
    ignore: Annotated[
        str | None, typer.Option("--ignore", help="Items not compared, comma-separated.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Number items differing by at most this are equal.")
    ] = 0.0,
    ignore_trailing_spaces: Annotated[
        bool, typer.Option(metavar="", help="Compare text without trailing ASCII/full-width spaces.")
    ] = False,
    ignore_width: Annotated[
        bool, typer.Option(metavar="", help="Compare text with full-/half-width ASCII and kana folded.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write diff-rows, diff-changes, diff-summary.json here."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="parquet|csv", help="Details as parquet or csv.")
    ] = "parquet",
    html: Annotated[
        bool, typer.Option("--html", metavar="", help="Also write diff.html (needs --out).")
    ] = False,
    show_values: bool = ShowValues,
    memory_limit: str = MemoryLimit,
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> None:
    """Compare two extracts by key: added, removed, changed (with items), duplicate keys. Exit 1 on differences."""

    @guarded
    @definitions(layouts_dir, allow_outside_definitions)
    def run() -> int:
        lay = resolve(layout)
        if html and out is None:
            raise UsageError("--html needs --out DIR")
        opts = DiffOptions(
            _items(key),
            _items(ignore),
            tolerance,
            Normalise(ignore_trailing_spaces, ignore_width),
            show_values,
            memory_limit,
        )
        with phases(not as_json) as step:
            result = diff(locate(before, lay, file), locate(after, lay, file), opts, out, fmt, html, step)
        emit_json(result.summary) if as_json else _print(result.summary)
        return OK if result.identical else FOUND

    run()
