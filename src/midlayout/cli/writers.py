"""`midlayout writers list`: the writers installed, built-in or plugin."""

from __future__ import annotations

import warnings

import typer
from rich.table import Table
from rich.text import Text

from midlayout.cli.common import JsonOpt, emit_json, guarded, stderr, stdout
from midlayout.writers.registry import inventory

app = typer.Typer(help="List the output writers (built-in and plugins).", no_args_is_help=True)


@app.command("list")
@guarded
def list_cmd(as_json: bool = JsonOpt) -> int:
    """List writers: name, module, distribution, built-in or plugin, and their options."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = inventory()
    for w in caught:
        stderr.print(f"warning: {w.message}", highlight=False, markup=False)
    if as_json:
        emit_json(rows)
        return 0
    table = Table("name", "kind", "module", "distribution", "options")
    for r in rows:
        name = Text(r["name"]) if r["loaded"] else Text.assemble(r["name"], (" (failed to load)", "red"))
        table.add_row(name, r["kind"], r["module"], r["distribution"], ", ".join(r["options"]))
    stdout.print(table)
    return 0
