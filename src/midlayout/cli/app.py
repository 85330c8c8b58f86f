"""The typer application: one sub-command per verb, each in its own module."""

from __future__ import annotations

import typer

from midlayout import __version__
from midlayout.cli import audit, convert, diff, inspect, layouts, run, synth, writers

app = typer.Typer(
    name="midlayout",
    help="Migrate municipal data through the 中間標準レイアウト. Exit codes: 0 ok, 1 rejects/differences, "
    "2 invalid input or usage, 3 internal error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(layouts.app, name="layouts")
app.command("convert")(convert.convert_cmd)
app.command("validate")(convert.validate_cmd)
app.command("inspect")(inspect.inspect_cmd)
app.command("diff")(diff.diff_cmd)
app.command("reconcile")(audit.reconcile_cmd)
app.command("verify")(audit.verify_cmd)
app.command("rejects-report")(audit.rejects_report_cmd)
app.add_typer(writers.app, name="writers")
app.command("run")(run.run_cmd)
app.command("synth")(synth.synth_cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"midlayout {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, metavar="", help="Show the version."
    ),
) -> None:
    """midlayout: 中間標準レイアウト migration toolkit."""


def main() -> None:
    """Console-script entry point; usage errors exit 2 (typer's default)."""
    app()


if __name__ == "__main__":
    main()
