"""Planning a run: staging keys, which job's pass captures which lookup, lookup tables, execution order."""

from __future__ import annotations

import polars as pl

from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Lookup
from midlayout.layout.model import staging_key
from midlayout.mapping.compile import build_lookup_table
from midlayout.pipeline.inputs import Job
from midlayout.pipeline.readmap import read_input


def target_name(job: Job) -> str:
    """`<layout id>:<file id>`, the staging key of a job's target file."""
    return staging_key(job.mapping.target.id, job.rule.target)


def lookups_of(job: Job) -> set[Lookup]:
    """The lookups a job's mapping joins."""
    return {r.lookup for r in job.rule.items if r.lookup}


def lookup_source(jobs: list[Job], job: Job, lk: Lookup) -> int:
    """The number of the job that reads the source file of `lk` (a file of the same mapping)."""
    return next(i for i, j in enumerate(jobs) if j.mapping is job.mapping and j.source.id == lk.source)


def read_lookup(
    jobs: list[Job], job: Job, lk: Lookup, batch_size: int, gaiji: dict[str, GaijiOptions]
) -> pl.DataFrame:
    """The lookup table of `lk`, read from its source file."""
    src = jobs[lookup_source(jobs, job, lk)]
    batches = read_input(src.source, src.path, gaiji[src.mapping.id], None, batch_size=batch_size)
    return build_lookup_table([b.rows.select(lk.key, lk.value) for b in batches], lk)


def lookup_tables(
    jobs: list[Job], batch_size: int, gaiji: dict[str, GaijiOptions]
) -> dict[Lookup, pl.DataFrame]:
    """Every lookup table of the run, each read from its source file (`convert` captures them instead)."""
    return {lk: read_lookup(jobs, job, lk, batch_size, gaiji) for job in jobs for lk in lookups_of(job)}


def capture_plan(jobs: list[Job]) -> dict[int, list[Lookup]]:
    """Per lookup source job: the lookups whose key and value columns its own pass captures."""
    plan: dict[int, list[Lookup]] = {}
    for job in jobs:
        for lk in sorted(lookups_of(job), key=repr):
            plan.setdefault(lookup_source(jobs, job, lk), []).append(lk)
    return plan


def execution_order(jobs: list[Job], sources: dict[int, list[Lookup]]) -> list[int]:
    """Lookup sources first (their columns are captured on their own pass), then jobs that need no lookup,
    then those that do: only the last wait for earlier batches to finish."""
    needs = [i for i, j in enumerate(jobs) if any(r.lookup for r in j.rule.items) and i not in sources]
    return (
        [i for i in range(len(jobs)) if i in sources]
        + [i for i in range(len(jobs)) if i not in sources and i not in needs]
        + needs
    )
