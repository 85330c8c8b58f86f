"""A run's manifest: built from the mappings, inputs and options, its run identity, and finished with the
run's counts."""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

import midlayout
from midlayout.layout.bundled import portable_ref
from midlayout.layout.gaiji import GaijiOptions
from midlayout.layout.mapping import Mapping
from midlayout.layout.standard import sha256_file
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.manifest import InputRecord, Manifest
from midlayout.pipeline.options import ConvertOptions
from midlayout.pipeline.outputset import OutputSet
from midlayout.pipeline.runid import content_options, definition_files, run_identity
from midlayout.readers.preflight import terminator_name
from midlayout.writers import Output


def run_id(manifest: Manifest) -> str:
    """The run identity of a manifest's data (pipeline/runid.py): inputs, definition files, content options.

    Rerunning the same inputs through the same definitions and options gives the same id, wherever the
    files lie; each writer's load id (`Manifest.load_ids`) adds that writer's options to it.
    """
    inputs = [(i.mapping, i.source, i.sha256) for i in manifest.inputs]
    return run_identity(inputs, manifest.definitions, manifest.options)


def plan_run_id(mappings: list[Mapping], inputs: list[str], options: ConvertOptions | None = None) -> str:
    """The run identity a conversion of `inputs` would have (hashes the inputs; converts nothing)."""
    options = options or ConvertOptions(writers=())
    manifest = build_manifest(mappings, match_inputs(mappings, inputs), options=options)
    return run_id(manifest)


def build_manifest(
    mappings: list[Mapping],
    jobs: list[Job],
    hashes: list[str] | None = None,
    options: ConvertOptions | None = None,
) -> Manifest:
    """The manifest of a run before it starts: tool, definition files, content options, layouts, mappings and
    inputs (hashed unless given)."""
    options = options or ConvertOptions(writers=())
    layouts = {m.target.ref: m.target for m in mappings}
    return Manifest(
        tool={
            "name": "midlayout",
            "version": midlayout.__version__,
            "python": platform.python_version(),
            "polars": pl.__version__,
            "validator": options.validator,
        },
        options=content_options(options.gaiji(mappings), options.validator) | mapping_options(mappings),
        definitions=definition_files(mappings, options.gaiji_table),
        layouts=[
            {
                "id": lay.id,
                "version": lay.version,
                "path": portable_ref(lay.path),
                "absolute_path": str(lay.path),  # information only: where it was at run time
                "sha256": lay.sha256,
            }
            for lay in layouts.values()
        ],
        mappings=[
            {
                "id": m.id,
                "version": m.version,
                "target": m.target.ref,
                "path": str(m.path),
                "sha256": m.sha256,
            }
            for m in mappings
        ],
        inputs=[
            InputRecord(
                str(j.path),
                j.source.id,
                j.mapping.id,
                j.mapping.target.target(j.rule.target),
                j.path.stat().st_size,
                hashes[i] if hashes is not None else sha256_file(j.path),
                j.source.encoding,
                terminator=terminator_name(j.source),
            )
            for i, j in enumerate(jobs)
        ],
    )


def mapping_options(mappings: list[Mapping]) -> dict[str, Any]:
    """The mapping options that change content: control-character allowances and date policies (each
    recorded only when a mapping sets one); part of the run identity with the run's own options."""
    from midlayout.validate.controls import manifest_options

    allow = manifest_options(mappings)
    dates = {
        f"{m.id}:{f.target}.{it.item}": {k: op.args[k] for k in ("blank", "partial") if k in op.args}
        for m in mappings
        for f in m.files
        for it in f.items
        for op in it.ops
        if op.name in ("wareki", "wareki_unknown")
    }
    return ({"allow_control": allow} if allow else {}) | ({"date_policies": dates} if dates else {})


def validation_section(
    jobs: list[Job], gaiji: dict[str, GaijiOptions], prove: bool | None = None
) -> dict[str, Any]:
    """The manifest's `validation`: which rules of which target items were proven by the source (and so not
    checked), and why, without values (`proven`, empty with MIDLAYOUT_PROVE=0)."""
    from midlayout.mapping import proof
    from midlayout.pipeline.batches import job_proofs
    from midlayout.readers.gaiji import spec_for

    if not (proof.enabled() if prove is None else prove):
        return {"proven": []}
    entries = [
        (j.mapping.id, j.mapping.target.target(j.rule.target), p)
        for j in jobs
        for p in job_proofs(j, spec_for(j.source, gaiji[j.mapping.id]))
    ]
    return {"proven": proof.manifest_entries(entries)}


def dates_section(counts: dict[str, int]) -> dict[str, Any]:
    """The manifest's `text.dates`: values each date item accepted with a loss (`partial: null`)."""
    partial = {k.split(":", 1)[1]: n for k, n in sorted(counts.items()) if k.startswith("partial_null:")}
    return {"partial_null": partial, "partial_null_total": sum(partial.values())}


class InputHasher:
    """sha256 of every input, in a background thread (hashlib releases the GIL) while the batches run."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._digests: list[str] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hash_all, name="midlayout-sha256", daemon=True)
        self._thread.start()

    def _hash_all(self) -> None:
        try:
            self._digests = [sha256_file(path, self._stop) for path in self._paths]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> list[str]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digests

    def stop(self) -> None:
        self._stop.set()

    def set_run_id(self, manifest: Manifest) -> str:
        """Wait for the hashes, record them in the manifest's inputs, and set its run identity."""
        for record, digest in zip(manifest.inputs, self.result(), strict=True):
            record.sha256 = digest
        manifest.run_id = run_id(manifest)
        return manifest.run_id


def finish_manifest(
    manifest: Manifest,
    outset: OutputSet,
    outputs: list[Output],
    written: pl.DataFrame,
    rejects: pl.DataFrame,
    reports: dict[str, pl.DataFrame],
    t0: float,
    names: list[str],
) -> None:
    """Counts, outputs (with the paths they will have once swapped in), reject summary, status; check
    records read = written + rejected. The caller swaps the set in and the manifest with it, last."""
    _count(manifest, written, rejects)
    out_dir, set_dir = outset.out, outset.next
    manifest.outputs = (
        [{**vars(o), "path": _final(outset, o.path)} for o in outputs]
        + [
            {
                "writer": "rejects",
                "path": str(out_dir / n),
                "target": "rejects",
                "rows": rejects.height,
                "sha256": sha256_file(set_dir / n),
            }
            for n in ("rejects.parquet", "rejects.csv")
        ]
        + [
            {
                "writer": "text",
                "path": str(out_dir / n),
                "target": n.removesuffix(".csv"),
                "rows": r.height,
                "sha256": sha256_file(set_dir / n),
            }
            for n, r in reports.items()
        ]
    )
    manifest.output_set = names
    manifest.output_mode = f"{outset.file_mode:o}"
    manifest.rejects = _reject_summary(rejects)
    manifest.timings["total_s"] = round(time.perf_counter() - t0, 3)
    manifest.check_conservation()
    flagged = manifest.text["gaiji"]["flagged_records"]
    manifest.status = "rejects" if rejects.height else "flagged" if flagged else "ok"
    manifest.exit_code = 0 if manifest.status == "ok" else 1


def _final(outset: OutputSet, path: str) -> str:
    """An output path in the new set, as it will be after the swap."""
    p = Path(path)
    return str(outset.out / p.relative_to(outset.next)) if outset.next in p.parents else path


def _count(manifest: Manifest, written: pl.DataFrame, rejects: pl.DataFrame) -> None:
    by_file = dict(written.iter_rows())
    rejected = dict(rejects.group_by("file").agg(pl.col("record").n_unique()).iter_rows())
    for inp in manifest.inputs:
        inp.records_written = int(by_file.get(inp.path, 0))
        inp.records_rejected = int(rejected.get(inp.path, 0))


def _reject_summary(rejects: pl.DataFrame) -> dict[str, object]:
    by_rule = rejects.group_by("stage", "rule").agg(pl.len().alias("n")).sort("stage", "rule")
    return {
        "rows": rejects.height,
        "records": rejects.select("file", "record").unique().height,
        "by_rule": [{"stage": s, "rule": r, "count": n} for s, r, n in by_rule.iter_rows()],
    }
