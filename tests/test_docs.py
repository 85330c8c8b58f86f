"""Docs that are checked: every command has help and appears in both READMEs; the README's demo commands run."""

from __future__ import annotations

import re
from typing import Any

import typer.main
from typer.testing import CliRunner

from midlayout.cli import app
from tests.conftest import ROOT


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            found |= _commands(cmd, full + " ")
        else:
            found[full] = cmd
    return found


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_every_command_has_help_and_is_in_both_readmes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme_ja = (ROOT / "README.ja.md").read_text(encoding="utf-8")
    assert {"convert", "validate", "layouts list", "layouts show"} <= COMMANDS.keys()
    for name, cmd in COMMANDS.items():
        assert (cmd.help or "").strip(), f"{name} has no help"
        assert f"midlayout {name}" in readme, f"README.md does not mention `midlayout {name}`"
        assert f"midlayout {name}" in readme_ja, f"README.ja.md does not mention `midlayout {name}`"


def test_both_readmes_start_with_the_two_commands() -> None:
    for name in ("README.md", "README.ja.md"):
        head = (ROOT / name).read_text(encoding="utf-8")[:1500]
        assert "make demo" in head and "make test" in head, name


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_layout_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    refs = set(re.findall(r"`(chukan/[a-z_]+@[0-9.]+)`", readme))
    assert refs
    runner = CliRunner()
    for ref in refs:
        assert runner.invoke(app, ["layouts", "show", ref, "--json"]).exit_code == 0, ref
