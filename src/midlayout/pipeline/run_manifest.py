"""A run's manifest: built from the mappings and inputs, its load id, and finished with the run's counts."""

from __future__ import annotations

import hashlib
import json
import platform
import threading
import time
from pathlib import Path

import polars as pl

import midlayout
from midlayout.layout.mapping import Mapping
from midlayout.layout.standard import sha256_file
from midlayout.pipeline.inputs import Job, match_inputs
from midlayout.pipeline.manifest import InputRecord, Manifest, write_atomic
from midlayout.writers import Output


def load_id(manifest: Manifest) -> str:
    """The identity of a run's data: sha256 over the inputs', mappings' and layouts' sha256s.

    Rerunning the same inputs through the same mappings and layouts gives the same id, wherever the files
    lie; a database writer uses it to make a rerun a no-op.
    """
    identity = {
        "inputs": sorted((i.mapping, i.source, i.sha256) for i in manifest.inputs),
        "mappings": sorted((m["id"], m["sha256"]) for m in manifest.mappings),
        "layouts": sorted((lay["id"], lay["version"], lay["sha256"]) for lay in manifest.layouts),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def plan_load_id(mappings: list[Mapping], inputs: list[str]) -> str:
    """The load id a conversion of `inputs` through `mappings` would have (hashes the inputs; converts nothing)."""
    return load_id(build_manifest(mappings, match_inputs(mappings, inputs)))


def build_manifest(mappings: list[Mapping], jobs: list[Job], hashes: list[str] | None = None) -> Manifest:
    """The manifest of a run before it starts: tool, layouts, mappings and inputs (hashed unless given)."""
    layouts = {m.target.ref: m.target for m in mappings}
    return Manifest(
        tool={
            "name": "midlayout",
            "version": midlayout.__version__,
            "python": platform.python_version(),
            "polars": pl.__version__,
        },
        layouts=[
            {"id": lay.id, "version": lay.version, "path": str(lay.path), "sha256": lay.sha256}
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
            )
            for i, j in enumerate(jobs)
        ],
    )


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

    def set_load_id(self, manifest: Manifest) -> str:
        """Wait for the hashes, record them in the manifest's inputs, and set its load id."""
        for record, digest in zip(manifest.inputs, self.result(), strict=True):
            record.sha256 = digest
        manifest.load_id = load_id(manifest)
        return manifest.load_id


def finish_manifest(
    manifest: Manifest,
    out_dir: Path,
    outputs: list[Output],
    written: pl.DataFrame,
    rejects: pl.DataFrame,
    reports: dict[str, pl.DataFrame],
    t0: float,
) -> None:
    """Counts, outputs, reject summary, status; check records read = written + rejected; write it last."""
    _count(manifest, written, rejects)
    manifest.outputs = (
        [vars(o) for o in outputs]
        + [
            {
                "writer": "rejects",
                "path": str(out_dir / n),
                "target": "rejects",
                "rows": rejects.height,
                "sha256": sha256_file(out_dir / n),
            }
            for n in ("rejects.parquet", "rejects.csv")
        ]
        + [
            {
                "writer": "text",
                "path": str(out_dir / n),
                "target": n.removesuffix(".csv"),
                "rows": r.height,
                "sha256": sha256_file(out_dir / n),
            }
            for n, r in reports.items()
        ]
    )
    manifest.rejects = _reject_summary(rejects)
    manifest.timings["total_s"] = round(time.perf_counter() - t0, 3)
    manifest.check_conservation()
    flagged = manifest.text["gaiji"]["flagged_records"]
    manifest.status = "rejects" if rejects.height else "flagged" if flagged else "ok"
    manifest.exit_code = 0 if manifest.status == "ok" else 1
    write_atomic(out_dir / "manifest.json", manifest.to_json(out_dir).encode("utf-8"))


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
