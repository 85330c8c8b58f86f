"""Reconcile two deliveries in different standard layouts through the mapping between them.

`reconcile LEFT RIGHT --mapping M…` where each mapping reads a standard layout (`source: {layout: …}`): the
left delivery (for example a yearly 中間標準レイアウト delivery) is re-read through the mappings, code conversion
tables included, and compared with the right delivery in the mappings' target layout (for example the
基本データリスト files a new 標準準拠システム received, whoever produced them): records per file, distinct persons,
totals of every amount item and counts per code value. Nothing is left out on either side: a record the
mapping cannot map, or that the right side lacks, shows as a difference.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from midlayout.audit.from_manifest import _stage_job
from midlayout.audit.inputs import Source
from midlayout.audit.reconcile import Side, Step, delivery
from midlayout.errors import UsageError
from midlayout.layout.mapping import Mapping, load_mapping
from midlayout.layout.standard import load_layout
from midlayout.pipeline.inputs import match_inputs
from midlayout.rejects import FILE, REC

NOTHING_REJECTED = pl.DataFrame(schema={FILE: pl.String, REC: pl.Int64})


def _standard_mappings(paths: list[Path]) -> list[Mapping]:
    mappings = [load_mapping(p) for p in paths]
    for m in mappings:
        if m.source.vendor != "standard":
            raise UsageError(
                f"{m.path}: comparing two deliveries through a mapping needs one whose source is a standard "
                "layout (source: {layout: ID@VERSION})"
            )
    return mappings


def _left_csv(left: Path, gyomu: str, file_id: str) -> Path | None:
    """The standard CSV of a file in a delivery folder (a convert output's standard/<業務>/ or the folder)."""
    for cand in (
        left / "standard" / gyomu / f"{file_id}.csv",
        left / gyomu / f"{file_id}.csv",
        left / f"{file_id}.csv",
    ):
        if cand.is_file():
            return cand
    return None


def across_sides(
    mapping_paths: list[Path], left: str, right: str, work: Path, step: Step
) -> tuple[Side, Side]:
    """(left re-read through the mappings, staged in `work`; right as delivered)."""
    mappings = _standard_mappings(mapping_paths)
    names = ", ".join(m.id for m in mappings)
    lside = Side(f"{left} (through {names})", hash_sources=False)
    rside = Side(right)
    n = 0
    for m in mappings:
        src_layout = load_layout(m.source.path)
        args = []
        for fm in m.files:
            csv = _left_csv(Path(left), src_layout.gyomu, fm.source)
            if csv is None:
                raise UsageError(f"{left}: holds no standard CSV file {fm.source}.csv of {src_layout.ref}")
            args.append(f"{fm.source}={csv}")
        for job in match_inputs([m], args):
            step(f"re-reading {job.path} through {m.id}")
            key = f"{m.target.ref}:{job.rule.target}"
            folder = work / key.replace("/", "_").replace(":", "__").replace("@", "_")
            _stage_job(job, {}, NOTHING_REJECTED, folder, n, m.gaiji)
            n += 1
            target = m.target.file(job.rule.target)
            lside.sources[key] = Source(str(folder), "parquet", folder / "*.parquet", m.target, target)
            lside.extra_files.append(("input", job.path))
        lside.extra_files.append(("mapping", m.path))
        rside.sources.update(delivery(right, m.target).sources)
    return lside, rside
