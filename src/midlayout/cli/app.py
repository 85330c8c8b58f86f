"""The typer application: one sub-command per verb, each in its own module."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from midlayout import __version__
from midlayout.cli import audit, convert, definitions, diff, inspect, layouts, run, synth, writers
from midlayout.cli.common import fail

# typer's usage errors (a missing argument, an unknown option) derive from click's ClickException, which typer
# does not export under a public name; its BadParameter does, so the base class is found through it.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class _Root(TyperGroup):
    """Under --json, a usage error is also a JSON error object on stdout, and one line on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv:
            return super().main(argv, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except _ClickException as exc:
            message = exc.format_message()  # type: ignore[attr-defined]
            code = fail(message, int(getattr(exc, "exit_code", 2)), "usage", as_json=True).exit_code
        except typer.Abort:
            code = 1
        if standalone_mode:
            sys.exit(code or 0)
        return code


app = typer.Typer(
    cls=_Root,
    name="midlayout",
    help="Migrate municipal data through the 中間標準レイアウト. Exit codes: 0 ok, 1 rejects/differences, "
    "2 invalid input or usage, 3 internal error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
layouts.app.command("import")(definitions.import_cmd)
layouts.app.command("export")(definitions.export_cmd)
layouts.app.command("diff")(definitions.diff_cmd)
app.add_typer(layouts.app, name="layouts")
app.command("convert")(convert.convert_cmd)
app.command("validate")(convert.validate_cmd)
app.command("inspect")(inspect.inspect_cmd)
app.command("diff")(diff.diff_cmd)
app.command("reconcile")(audit.reconcile_cmd)
app.command("verify")(audit.verify_cmd)
app.command("rejects-report")(audit.rejects_report_cmd)
app.add_typer(writers.app, name="writers")
app.add_typer(definitions.mapping_app, name="mapping")
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
