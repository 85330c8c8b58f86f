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


def _table_rows(text: str, command: str) -> str:
    """The commands-table rows of a README that start with `midlayout COMMAND` (one command may have two forms),
    plus the README's common-options line (options many commands share, named once)."""
    rows = [line for line in text.splitlines() if line.startswith(f"| `midlayout {command}")]
    common = re.findall(
        r"^\*\*(?:Common options\.|共通のオプション。)\*\*.*?(?:\n\n|\Z)", text, re.DOTALL | re.MULTILINE
    )
    return "\n".join(rows + common) if rows else ""


def _long_options(cmd: Any) -> set[str]:
    return {o for p in cmd.params if p.param_type_name == "option" for o in p.opts if o.startswith("--")}


def _named(row: str, opts: list[str]) -> bool:
    """The row names the option by one of its spellings (`--mapping` or `-m`)."""
    return any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", row) for o in opts)


def test_both_readmes_name_every_option_writer_and_op_the_tool_exposes() -> None:
    from midlayout.layout.ops import OP_SPECS as OPS
    from midlayout.writers.registry import BUILTINS

    assert {"--gaiji", "--gaiji-unmapped", "--option"} <= _long_options(COMMANDS["convert"])
    assert {"wareki_partial", "to_wareki"} <= OPS.keys() and {"fixed", "postgres"} <= set(BUILTINS)
    for name in ("README.md", "README.ja.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        for command, cmd in COMMANDS.items():
            row = _table_rows(text, command)
            assert row, f"{name}: no row for `midlayout {command}` in the commands table"
            missing = sorted(
                p.opts[0] for p in cmd.params if p.param_type_name == "option" and not _named(row, p.opts)
            )
            assert not missing, f"{name}: the `midlayout {command}` row does not name {missing}"
        for writer in BUILTINS:
            assert f"`{writer}`" in text, f"{name} does not name the writer `{writer}`"
        for op in OPS:
            assert re.search(rf"`\{{?{op}\b", text), f"{name} does not name the mapping op `{op}`"


def test_docs_ja_mirrors_every_page_of_docs() -> None:
    english = {p.name for p in (ROOT / "docs").glob("*.md")}
    japanese = {p.name for p in (ROOT / "docs" / "ja").glob("*.md")}
    assert english and english == japanese, (sorted(english - japanese), sorted(japanese - english))
    for name in english:
        assert f"ja/{name}" in (ROOT / "docs" / name).read_text(encoding="utf-8"), (
            f"docs/{name} links no mirror"
        )


def test_both_readmes_say_how_to_reach_the_venv_before_the_first_command() -> None:
    for name in ("README.md", "README.ja.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        activate = text.find("source .venv/bin/activate")
        assert activate > text.find("make test") > 0, name
        first = min(
            text.find("$ midlayout "), text.find("\nmidlayout "), key=lambda i: i if i >= 0 else 10**9
        )
        assert activate < first, f"{name}: the first midlayout command comes before the venv is activated"
        assert ".venv/bin/midlayout" in text[activate : activate + 300], name
