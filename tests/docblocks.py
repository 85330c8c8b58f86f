"""The docs as a script: find the shell blocks of README.md, README.ja.md and docs/**/*.md, run the runnable ones.

The convention (README.md, "Development"):

- every ```` ```sh ````, ```` ```console ````, ```` ```bash ```` or ```` ```shell ```` block is preceded by a marker
  line: `<!-- runnable -->`, or `<!-- not runnable: REASON -->` (a reason is required);
- in a `sh` block every line that is not a `#` comment is a command (a trailing `\\` continues it);
- in a `console` block a command starts with `$ `; the lines up to the next `$ ` are what it prints. Each of
  them must appear in the output, in order (other lines may come between): runs of spaces and of table rules
  count as one, `…` stands for any text, and a line `exit=N` asserts the exit code;
- without `exit=N` a command must exit 0 or 1 (1 is "rejects found", which the samples contain on purpose).

The blocks of one document run in order in one shell folder, a fresh copy of the repository, with the
repository's `.venv/bin` first on PATH (the two set-up commands, `make demo` and `make test`, are not run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGS = {"sh", "console", "bash", "shell"}
MARK = re.compile(r"^<!--\s*(runnable|not runnable:\s*(?P<reason>\S.*?))\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<lang>[\w-]*)\s*$")
RULES = re.compile(r"[━─═┄]+")
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.egg-info"
)


@dataclass
class Command:
    """One command of a block and what the docs say it prints."""

    line: int  # 1-based line of the command in its document
    text: str
    expected: list[str] = field(default_factory=list)
    exit_code: int | None = None


@dataclass
class Block:
    """A fenced shell block of a document."""

    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    marker: str | None  # "runnable", "not runnable: …" or None (unmarked)
    body: list[str]

    @property
    def runnable(self) -> bool:
        return self.marker == "runnable"

    def commands(self) -> list[Command]:
        if self.lang == "console":
            return _console(self.body, self.line)
        return _script(self.body, self.line)


def documents(root: Path) -> list[Path]:
    """README.md, README.ja.md, samples/README.md, then docs/*.md and docs/ja/*.md, in that order."""
    docs = root / "docs"
    return [
        root / "README.md",
        root / "README.ja.md",
        root / "samples" / "README.md",
        *sorted(docs.glob("*.md")),
        *sorted((docs / "ja").glob("*.md")),
    ]


def english_twin(doc: Path) -> Path | None:
    """README.md for README.ja.md, docs/X.md for docs/ja/X.md; None for an English page."""
    if doc.name == "README.ja.md":
        return doc.with_name("README.md")
    if doc.parent.name == "ja" and doc.parent.parent.name == "docs":
        return doc.parent.parent / doc.name
    return None


def script(runnable: list[Block]) -> list[tuple[str, list[str], int | None]]:
    """What a document's runnable blocks run and expect, comments left out (translations may differ there)."""
    return [
        (c.text, [normalise(x) for x in c.expected], c.exit_code)
        for b in runnable
        for c in b.commands()
        if not c.text.startswith("#")
    ]


def blocks(doc: Path) -> list[Block]:
    """Every fenced block in a shell language, with the marker line before it (if any)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m["fence"], m["lang"].lower(), i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            body.append(lines[i].removeprefix(m["indent"]))
            i += 1
        i += 1
        if lang in SHELL_LANGS:
            prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            mark = MARK.match(prev.strip())
            found.append(Block(doc, start + 1, lang, mark.group(1) if mark else None, body))
    return found


def _joined(lines: list[str], first: int) -> list[tuple[int, str]]:
    """(line number, logical line): `\\` at the end joins the next line."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for n, raw in enumerate(lines, start=first):
        if pending:
            text = pending[1] + " " + raw.strip()
            n0 = pending[0]
        else:
            text, n0 = raw, n
        if text.rstrip().endswith("\\"):
            pending = (n0, text.rstrip()[:-1].rstrip())
            continue
        pending = None
        out.append((n0, text))
    if pending:
        out.append(pending)
    return out


def _script(body: list[str], fence_line: int) -> list[Command]:
    return [
        Command(n, text.strip())
        for n, text in _joined(body, fence_line + 1)
        if text.strip() and not text.strip().startswith("#")
    ]


def _console(body: list[str], fence_line: int) -> list[Command]:
    commands: list[Command] = []
    cont = False
    for n, raw in enumerate(body, start=fence_line + 1):
        if raw.startswith("$ ") or (cont and commands):
            piece = raw[2:] if raw.startswith("$ ") and not cont else raw.strip()
            if cont:
                commands[-1].text += " " + piece.strip()
            else:
                commands.append(Command(n, piece.strip()))
            cont = commands[-1].text.endswith("\\")
            if cont:
                commands[-1].text = commands[-1].text[:-1].rstrip()
            continue
        if not commands or not raw.strip():
            continue
        m = re.fullmatch(r"\s*exit=(\d+)\s*", raw)
        if m:
            commands[-1].exit_code = int(m.group(1))
        else:
            commands[-1].expected.append(raw)
    for c in commands:  # a trailing "# comment" on a command line is the reader's, not the shell's
        c.text = re.sub(r"\s+#\s[^'\"]*$", "", c.text)
    return commands


def normalise(line: str) -> str:
    """Spaces and table rules collapsed, ends stripped (rich tables vary in width with their content)."""
    return re.sub(r"\s+", " ", RULES.sub("━", line)).strip()


def _pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in normalise(expected).split("…")]
    return re.compile(".*".join(parts))


def missing_lines(expected: list[str], output: str) -> list[str]:
    """The expected lines that are not found in `output`, in order (other lines may come between)."""
    got = [normalise(x) for x in output.splitlines()]
    at, missing = 0, []
    for want in expected:
        if normalise(want) in ("", "…"):
            continue
        pattern = _pattern(want)
        for j in range(at, len(got)):
            if pattern.search(got[j]):
                at = j + 1
                break
        else:
            missing.append(want)
    return missing


def copy_repo(root: Path, dest: Path) -> Path:
    """A scratch copy of the repository (sources, definitions, samples, docs; no venv, git or outputs)."""
    shutil.copytree(root, dest, ignore=COPY_IGNORE, symlinks=True)
    return dest


def shell_env(root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A newcomer's shell after the set-up commands: `.venv/bin` first on PATH, no midlayout settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIDLAYOUT_", "PG", "VIRTUAL_ENV"))}
    env["PATH"] = f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "160"  # rich's width when stdout is not a terminal; the docs' output was captured so
    env["TERM"] = "dumb"
    env |= extra or {}
    return env


def run(command: Command, cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run one command with bash; (exit code, stdout and stderr together)."""
    proc = subprocess.run(
        ["bash", "-c", command.text],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout.decode("utf-8", "replace")
