"""Batch job files: many conversions (業務 × files × municipalities), each with mappings, inputs and writers.

A job is loaded strictly: unknown keys, missing mapping files, unknown writers and unknown writer options
are DefinitionErrors at file:line. Inputs are checked when their entry runs (an absent input fails that
entry, not the whole job). Paths are relative to the job file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.standard import sha256_file
from midlayout.layout.yamlfile import Doc, PathKey, load_yaml

ON_ERROR = ("stop", "continue")


@dataclass(frozen=True)
class JobEntry:
    """One conversion of a job."""

    id: str
    mappings: tuple[Path, ...]
    inputs: tuple[str, ...]  # PATH or SOURCE=PATH, PATH resolved against the job file
    writers: dict[str, dict[str, Any]]
    municipality: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Job:
    """A loaded job file."""

    id: str
    path: Path
    sha256: str
    out: Path
    on_error: str
    entries: tuple[JobEntry, ...]
    description: str = ""
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)


# Writer name → the option names it accepts; raises ValueError saying why a name is not a usable writer.
# The caller passes the installed writers' (writers.registry.options_of): definitions import no engine.
WriterOptions = Callable[[str], Collection[str]]


def _writers(doc: Doc, at: PathKey, node: Any, options_of: WriterOptions) -> dict[str, dict[str, Any]]:
    """`{writer: {option: value}}`; writer names and option names are checked against the installed writers."""
    node = c.mapping(doc, at, node, set(), set(node) if isinstance(node, dict) else set())
    out: dict[str, dict[str, Any]] = {}
    for name, options in node.items():
        try:
            allowed = set(options_of(name))
        except ValueError as exc:
            raise doc.error((*at, name), str(exc)) from None
        opts = c.mapping(doc, (*at, name), options or {}, set(), allowed)
        for key, value in opts.items():
            if not isinstance(value, str | bool | int):
                raise doc.error(
                    (*at, name, key), f"expected a string, number or true/false, got {type(value).__name__}"
                )
        out[name] = dict(opts)
    return out


def _path_list(doc: Doc, at: PathKey, node: Any) -> list[str]:
    return [c.text(doc, (*at, i), v) for i, v in enumerate(c.seq(doc, at, node))]


def _norm(path: Path) -> Path:
    """`jobs/../samples/x` as `samples/x` (lexically: symlinks are left alone)."""
    return Path(os.path.normpath(path))


def _resolve_input(base: Path, arg: str) -> str:
    name, eq, path = arg.partition("=")
    if eq and "/" not in name and not (base / arg).exists():
        return f"{name}={_norm(base / path)}"
    return str(_norm(base / arg))


def _entry(
    doc: Doc, at: PathKey, node: Any, defaults: dict[str, dict[str, Any]], options_of: WriterOptions
) -> JobEntry:
    node = c.mapping(doc, at, node, {"id", "mappings", "inputs"}, {"writers", "municipality", "note"})
    base = doc.path.parent
    mappings = []
    for i, rel in enumerate(_path_list(doc, (*at, "mappings"), node["mappings"])):
        path = _norm(base / rel)
        if not path.is_file():
            raise doc.error((*at, "mappings", i), f"mapping file not found: {rel}")
        mappings.append(path)
    writers = {name: dict(opts) for name, opts in defaults.items()}
    for name, opts in _writers(doc, (*at, "writers"), node.get("writers", {}), options_of).items():
        writers[name] = {**writers.get(name, {}), **opts}
    # no writers at all: the entry writes what convert writes by default (pipeline/job.py)
    municipality = node.get("municipality")
    return JobEntry(
        id=c.ident(doc, (*at, "id"), node["id"]),
        mappings=tuple(mappings),
        inputs=tuple(_resolve_input(base, a) for a in _path_list(doc, (*at, "inputs"), node["inputs"])),
        writers=writers,
        municipality=c.text(doc, (*at, "municipality"), municipality) if municipality is not None else None,
        line=doc.line(at),
    )


def load_job(path: Path, options_of: WriterOptions) -> Job:
    """Load and check a job file; DefinitionError with file:line on any fault. `options_of` gives the
    options each installed writer accepts (`midlayout.writers.registry.options_of`)."""
    doc = load_yaml(path)
    top = c.mapping(doc, (), doc.data, {"job", "entries"}, {"defaults"})
    head = c.mapping(doc, ("job",), top["job"], {"id"}, {"description", "out", "on_error"})
    dnode = c.mapping(doc, ("defaults",), top.get("defaults", {}), set(), {"writers"})
    defaults = _writers(doc, ("defaults", "writers"), dnode.get("writers", {}), options_of)
    raw = c.seq(doc, ("entries",), top["entries"])
    entries = tuple(_entry(doc, ("entries", i), n, defaults, options_of) for i, n in enumerate(raw))
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if e.id in seen:
            raise doc.error(("entries", i, "id"), f"entry id {e.id!r} is used twice")
        seen.add(e.id)
    job_id = c.ident(doc, ("job", "id"), head["id"])
    out = (
        _norm(path.parent / c.text(doc, ("job", "out"), head["out"]))
        if "out" in head
        else path.parent / "out" / job_id
    )
    return Job(
        id=job_id,
        path=path,
        sha256=sha256_file(path),
        out=out,
        on_error=c.choice(doc, ("job", "on_error"), head.get("on_error", "stop"), ON_ERROR),
        entries=entries,
        description=str(head.get("description", "")),
        defaults=defaults,
    )
