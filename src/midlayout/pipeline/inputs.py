"""Match the input files on the command line to the source files of the mappings."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path

from midlayout.errors import InputError, Location, UsageError
from midlayout.layout.mapping import FileMapping, Mapping
from midlayout.layout.source import SourceFile


@dataclass(frozen=True)
class Job:
    """One input file, the mapping and file rule it feeds."""

    path: Path
    mapping: Mapping
    rule: FileMapping
    source: SourceFile


def _parse(arg: str) -> tuple[str | None, Path]:
    if "=" in arg and not Path(arg).exists():
        name, path = arg.split("=", 1)
        return name, Path(path)
    return None, Path(arg)


def match_inputs(mappings: list[Mapping], args: list[str]) -> list[Job]:
    """Each argument is PATH (matched by the source file's `match` pattern) or SOURCE_ID=PATH."""
    wanted = [(m, r, m.source.file(r.source)) for m in mappings for r in m.files]
    jobs: list[Job] = []
    for arg in args:
        name, path = _parse(arg)
        if path.is_dir():
            raise InputError("is a directory, not an input file", Location(file=str(path)))
        if not path.is_file():
            raise InputError("input file not found", Location(file=str(path)))
        hits = [w for w in wanted if (w[2].id == name if name else fnmatch.fnmatch(path.name, w[2].match))]
        if not hits:
            patterns = ", ".join(f"{s.id}={s.match}" for _, _, s in wanted)
            raise UsageError(
                f"{path}: matches no source file of the mapping(s) (expected: {patterns}); name it as SOURCE=PATH"
            )
        if len(hits) > 1:
            raise UsageError(f"{path}: matches several source files; name it as SOURCE=PATH")
        jobs.append(Job(path, *hits[0]))
    for m, r, s in wanted:
        given = [j for j in jobs if j.rule is r]
        if len(given) != 1:
            what = "no input" if not given else f"{len(given)} inputs"
            raise UsageError(f"mapping {m.id}: {what} for source file {s.id!r} (pattern {s.match})")
    return jobs


def preflight_jobs(jobs: list[Job], allow_empty: bool = False) -> list[Job]:
    """Check every input's framing and encoding before the first batch (readers/preflight.py): exit 2
    with one line when one cannot be right; `terminator: auto` is resolved for the run."""
    from midlayout.readers.preflight import preflight

    return [replace(j, source=preflight(j.source, j.path, allow_empty)) for j in jobs]
