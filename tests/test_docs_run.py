"""The docs are executed: every runnable shell block of both READMEs and docs/ runs and prints what the docs say.

The convention is in tests/docblocks.py and README.md ("Development"). `make docs-check` runs only this file.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import docblocks
from tests.conftest import PG_DSN, ROOT

DOCS = [d for d in docblocks.documents(ROOT) if d.is_file()]


def test_every_shell_block_is_marked_runnable_or_not_with_a_reason() -> None:
    unmarked = [
        f"{b.doc.relative_to(ROOT)}:{b.line}" for d in DOCS for b in docblocks.blocks(d) if b.marker is None
    ]
    assert not unmarked, (
        "shell blocks need `<!-- runnable -->` or `<!-- not runnable: REASON -->` on the line before "
        f"(see README.md, Development): {unmarked}"
    )


def test_each_document_has_runnable_blocks_where_it_shows_commands() -> None:
    for name in ("README.md", "README.ja.md", "docs/audit.md", "docs/loading.md"):
        assert any(b.runnable for b in docblocks.blocks(ROOT / name)), name


def test_the_extractor_reads_the_convention(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "<!-- runnable -->\n```console\n$ echo a \\\n  b   # a comment\na b\nexit=0\n$ false\nexit=1\n```\n\n"
        "<!-- not runnable: needs a mainframe -->\n```sh\nsubmit JOB\n```\n\n```sh\nls\n```\n",
        encoding="utf-8",
    )
    first, second, third = docblocks.blocks(doc)
    assert first.runnable and second.marker == "not runnable: needs a mainframe" and third.marker is None
    echo, false = first.commands()
    assert (echo.text, echo.expected, echo.exit_code, echo.line) == ("echo a b", ["a b"], 0, 3)
    assert (false.text, false.exit_code) == ("false", 1)
    assert (
        docblocks.missing_lines(["│ 87 │ 80 │", "18 of … match"], "│ 87   │  80  │\nx\n18 of 18 match") == []
    )
    assert docblocks.missing_lines(["18 of 18 files match"], "16 of 18 files match") == [
        "18 of 18 files match"
    ]


@pytest.fixture
def pg_database() -> Iterator[dict[str, str]]:
    """A scratch PostgreSQL database for one document's PostgreSQL commands (PG* variables), dropped afterwards.

    One per document: each document starts from an empty database, as each starts from a fresh copy of the tree.
    """
    import psycopg
    from psycopg import sql

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.Error as exc:  # CI has PostgreSQL: a docs run without it cannot say the docs are right
        pytest.fail(f"PostgreSQL not reachable at {PG_DSN} for the docs' PostgreSQL blocks: {exc}")
    name = f"docs_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = admin.info
    try:
        yield {"PGHOST": info.host, "PGPORT": str(info.port), "PGUSER": info.user, "PGDATABASE": name}
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_runnable_blocks_print_what_the_docs_say(
    doc: Path, tmp_path: Path, pg_database: dict[str, str]
) -> None:
    runnable = [b for b in docblocks.blocks(doc) if b.runnable]
    if not runnable:
        return  # nothing to run in this document (its blocks are marked not runnable, each with a reason)
    twin = docblocks.english_twin(doc)
    if twin is not None and docblocks.script(runnable) == docblocks.script(
        [b for b in docblocks.blocks(twin) if b.runnable]
    ):
        return  # the same commands and output as the English page, which this test runs
    work = docblocks.copy_repo(ROOT, tmp_path / "repo")
    env = docblocks.shell_env(ROOT, pg_database)
    where = doc.relative_to(ROOT)
    for block in runnable:
        for command in block.commands():
            code, output = docblocks.run(command, work, env)
            at = f"{where}:{command.line}: `{command.text}`"
            if command.exit_code is None:
                assert code in (0, 1), f"{at} exited {code}:\n{output}"
            else:
                assert code == command.exit_code, (
                    f"{at} exited {code}, the docs say {command.exit_code}:\n{output}"
                )
            missing = docblocks.missing_lines(command.expected, output)
            assert not missing, f"{at} did not print {missing}; it printed:\n{output}"
