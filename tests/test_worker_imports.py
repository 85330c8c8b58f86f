"""What a spawned worker process loads before its first batch (peak RSS, issue #14 target 6).

A worker that `convert` spawns re-imports the script that started the run (multiprocessing's spawn), so
the console script must not import the command line with it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def test_console_script_imports_no_cli_until_it_runs() -> None:
    (script,) = entry_points(group="console_scripts", name="midlayout")
    module, _, func = script.value.partition(":")
    code = (
        "import runpy, sys\n"
        f"from {module} import {func}\n"
        "heavy = {'typer', 'rich', 'duckdb', 'midlayout.cli', 'midlayout.writers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_dash_m_and_the_entry_point_run_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "midlayout", "--help"], capture_output=True, text=True, check=True
    )
    assert "convert" in out.stdout
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['midlayout', '--help']\nfrom midlayout.__main__ import main\nmain()",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "convert" in out.stdout
