"""Options, output and error handling shared by every command."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from midlayout.cli.messages import error_text, t
from midlayout.cli.signals import INTERRUPTED, TERMINATED, Terminated, sigterm_raises, stopped_message
from midlayout.errors import MidlayoutError, UsageError
from midlayout.layout.paths import outside_definitions
from midlayout.layout.registry import layouts_dirs

OK, FOUND, BAD_INPUT, INTERNAL = 0, 1, 2, 3

# Messages and paths are plain text, never rich markup (a path may hold `[old]` or `[/such]`); styles are
# given as Text. Piped output (not a terminal) is laid out wide, so that no number wraps across lines.
stderr = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)  # a warning stays one line
stdout = Console(highlight=False, soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 10_000)

_JSON: ContextVar[bool] = ContextVar("midlayout_json", default=False)


def _remember_json(value: bool) -> bool:
    """--json's callback (it runs on every invocation, default included): errors then go to stdout as JSON too."""
    _JSON.set(bool(value))
    return value


JsonOpt = typer.Option(
    False,
    "--json",
    help='Print a machine-readable JSON result on stdout (an error as {"error": …}).',
    callback=_remember_json,
    metavar="",
)
# A flag takes no value: no `<bool>` in --help.
FLAG = ""
LayoutsDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--layouts-dir",
        help="Folder of your own layouts (FAMILY/GYOMU/VERSION.yaml), repeatable; searched before "
        "$MIDLAYOUT_LAYOUTS and the bundled layouts.",
    ),
]
AllowOutside = Annotated[
    bool,
    typer.Option(
        "--allow-outside-definitions",
        metavar="",
        help="Let a mapping or layout name files (source layout, code maps, code tables, 外字 table) "
        "outside its own folder tree.",
    ),
]


@contextmanager
def definitions(layouts_dir: list[Path] | None, allow_outside: bool = False) -> Iterator[None]:
    """Where layouts are looked up and whether definitions may reach outside their folder, for one command."""
    with layouts_dirs(layouts_dir), outside_definitions(allow_outside):
        yield


MemoryLimitOpt = typer.Option(
    None,
    "--memory-limit",
    help="Memory limit of the cross-file checks and lookup staging, e.g. 1GB (default 256MB and 128MB in DuckDB, beyond which work spills to disk; cross-file checks of up to 2M rows run in memory unless this limit is given and too small).",
)

ExecutorOpt = typer.Option(
    "local",
    "--executor",
    metavar="local|dask",
    help="What runs the batches: local processes, or a Dask cluster (pip install midlayout[dask]). Same output either way.",
)
SchedulerOpt = typer.Option(
    None,
    "--scheduler",
    metavar="ADDRESS",
    help="With --executor dask: the scheduler, e.g. tcp://host:8786 (default: a LocalCluster of --workers processes).",
)

OverwriteOpt = typer.Option(
    False,
    "--overwrite",
    metavar="",
    help="Replace another run's outputs in the output folder (a rerun of the same run needs no flag).",
)
OutputModeOpt = typer.Option(
    "640",
    "--output-mode",
    metavar="MODE",
    help="File mode of the outputs, octal (default 640: not world-readable; folders get x where r). "
    "They hold personal data.",
)


def writer_options(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """`WRITER.KEY=VALUE` pairs (from --option) as {writer: {key: value}}; values stay strings."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        name, eq, value = pair.partition("=")
        writer, dot, key = name.partition(".")
        if not (eq and dot and writer and key):
            raise UsageError(
                f"--option {pair.split('=', 1)[0]!r}: write it as WRITER.KEY=VALUE, e.g. postgres.mode=upsert"
            )
        out.setdefault(writer, {})[key] = value
    return out


def emit_json(data: Any) -> None:
    """Print `data` as JSON on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, code: int, kind: str = "error", as_json: bool | None = None) -> typer.Exit:
    """Print a one-line error on stderr (and, under --json, a JSON error object on stdout); return the Exit."""
    if _JSON.get() if as_json is None else as_json:
        emit_json({"error": {"message": message, "exit_code": code, "kind": kind}})
    stderr.print(
        Text.assemble((t("error:"), "bold red"), " ", error_text(message)), highlight=False, soft_wrap=True
    )
    return typer.Exit(code)


def guarded(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body: domain errors become one line and exit 2 (or 3), anything else exit 3."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            with sigterm_raises():
                code = fn(*args, **kwargs) or OK
        except MidlayoutError as exc:
            raise fail(str(exc), exc.exit_code, type(exc).__name__) from None
        except KeyboardInterrupt:
            raise fail(stopped_message("SIGINT"), INTERRUPTED) from None
        except Terminated:
            raise fail(stopped_message("SIGTERM"), TERMINATED) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("MIDLAYOUT_DEBUG"):
                raise
            raise fail(
                f"internal error: {type(exc).__name__}: {exc} (set MIDLAYOUT_DEBUG=1 for a traceback)",
                INTERNAL,
                "internal",
            ) from None
        raise typer.Exit(code)

    return wrapper


class RichProgress:
    """Progress bars on stderr, one per input file (hidden when stderr is not a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, task: str, total: int) -> None:
        self.tasks[task] = self.progress.add_task(os.path.basename(task), total=total)

    def advance(self, task: str, amount: int) -> None:
        self.progress.advance(self.tasks[task], amount)

    def phase(self, name: str) -> None:
        """A phase without a byte count: the bars of the read are complete, a pulsing bar names it."""
        for task in self.progress.tasks:
            if task.total is not None:
                self.progress.update(task.id, completed=task.total)
            else:  # the previous phase is over
                self.progress.update(task.id, total=1, completed=1)
        self.tasks[name] = self.progress.add_task(name, total=None)


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[RichProgress]:
    """A rich progress display on stderr."""
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not enabled,
        transient=True,
    )
    with progress:
        yield RichProgress(progress)


@contextmanager
def phases(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr whose text follows the phases of a long job (silent when disabled)."""
    if not enabled:
        yield lambda _text: None
        return
    with stderr.status(Text("starting…"), spinner="dots") as status:
        yield lambda text: status.update(Text(text))
