"""`python -m midlayout` and the `midlayout` console script.

The console script imports only this module: a worker process that `convert` spawns re-imports the script
that started the run, and should not load typer, rich, DuckDB and every writer with it (about 25 MiB of
RSS per worker). The command line is imported when it runs.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point; usage errors exit 2 (typer's default)."""
    from midlayout.cli.app import main as run

    run()


if __name__ == "__main__":
    main()
