"""What `verify` requires of a manifest before it vouches for it: every field it reads has the right type, the
paths of the run's own files stay inside its folder, and the fields that restate one another agree.

A manifest that fails here was changed or cut short after the run (or is not one of ours): `verify` stops with
exit 2 and one line naming the field, so a tampered manifest can never pass for an intact one. The fields
`verify` does not vouch for (timings, the tool, the text findings, where files were at run time) are listed in
docs/run-integrity.md.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from midlayout.errors import InputError, Location
from midlayout.layout.bundled import is_package_ref, resolve_ref
from midlayout.pipeline.runid import KINDS, run_identity

SHA256 = re.compile(r"^[0-9a-f]{64}$")
RUN_STATUSES = ("ok", "rejects", "flagged")
ENTRY_STATUSES = (*RUN_STATUSES, "skipped", "failed", "not_run")
REPORT_WRITERS = ("rejects", "text")  # files every run writes beside its writers' outputs


class Fields:
    """Typed reads of one manifest's fields; each failure is an InputError naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, what: str) -> InputError:
        return InputError(
            f"{what} (a changed or cut-short manifest: verify cannot vouch for it)", Location(file=self.where)
        )

    def obj(self, what: str, node: Any) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail(f"{what} is not an object")
        return node

    def seq(self, what: str, node: Any) -> list[Any]:
        if not isinstance(node, list):
            raise self.fail(f"{what} is not a list")
        return node

    def text(self, what: str, node: Any) -> str:
        if not isinstance(node, str) or not node:
            raise self.fail(f"{what} is not a non-empty string")
        return node

    def sha(self, what: str, node: Any) -> str:
        if not isinstance(node, str) or not SHA256.match(node):
            raise self.fail(f"{what} is not a sha256 (64 lowercase hex digits)")
        return node

    def count(self, what: str, node: Any) -> int:
        if not isinstance(node, int) or isinstance(node, bool) or node < 0:
            raise self.fail(f"{what} is not a count")
        return node

    def inside(self, what: str, node: Any) -> str:
        """A path relative to the manifest's folder that stays inside it (the run's own files)."""
        path = self.text(what, node)
        parts = PurePosixPath(path).parts
        if is_package_ref(path) or path.startswith("/") or "\\" in path or ".." in parts or "." in parts:
            raise self.fail(f"{what} {path!r} is outside the manifest's folder")
        return path

    def equal(self, what: str, recorded: Any, derived: Any, from_what: str) -> None:
        if recorded != derived:
            raise self.fail(f"{what} does not agree with {from_what}")


def check_run_manifest(data: Any, where: str) -> dict[str, Any]:
    """A convert/validate manifest checked field by field (InputError on the first fault); returns it."""
    f = Fields(where)
    m = f.obj("the manifest", data)
    if "inputs" not in m and "outputs" not in m:
        raise InputError("not a midlayout manifest (no inputs/outputs lists)", Location(file=where))
    for key in ("definitions", "layouts", "mappings", "inputs", "outputs", "output_set"):
        if key not in m:
            raise f.fail(f"{key} is missing")
        f.seq(key, m[key])
    f.obj("options", m.get("options"))
    for i, d in enumerate(m["definitions"]):
        d = f.obj(f"definitions entry {i}", d)
        if d.get("kind") not in KINDS:
            raise f.fail(f"definitions entry {i}: kind is not one of {', '.join(KINDS)}")
        f.text(f"definitions entry {i}: path", d.get("path"))
        f.sha(f"definitions entry {i}: sha256", d.get("sha256"))
    defined = {(d["kind"], d["path"], d["sha256"]) for d in m["definitions"]}
    layouts = set()
    for i, lay in enumerate(m["layouts"]):
        lay = f.obj(f"layouts entry {i}", lay)
        layouts.add(
            f"{f.text(f'layouts entry {i}: id', lay.get('id'))}@{f.text(f'layouts entry {i}: version', lay.get('version'))}"
        )
        _among_definitions(f, defined, "layout", f"layouts entry {i}", lay)
    if len(layouts) != len(m["layouts"]):
        raise f.fail("layouts lists a layout twice")
    targets: dict[str, str] = {}
    for i, mp in enumerate(m["mappings"]):
        mp = f.obj(f"mappings entry {i}", mp)
        targets[f.text(f"mappings entry {i}: id", mp.get("id"))] = f.text(
            f"mappings entry {i}: target", mp.get("target")
        )
        if mp["target"] not in layouts:
            raise f.fail(f"mappings entry {i}: target {mp['target']} is not among the layouts")
        _among_definitions(f, defined, "mapping", f"mappings entry {i}", mp)
    if len(targets) != len(m["mappings"]):
        raise f.fail("mappings lists a mapping twice")
    written: dict[str, int] = {}
    for i, inp in enumerate(m["inputs"]):
        inp = f.obj(f"inputs entry {i}", inp)
        what = f"inputs entry {i}"
        f.text(f"{what}: path", inp.get("path"))
        f.sha(f"{what}: sha256", inp.get("sha256"))
        f.text(f"{what}: source", inp.get("source"))
        mapping = f.text(f"{what}: mapping", inp.get("mapping"))
        target = f.text(f"{what}: target", inp.get("target"))
        if mapping not in targets or not target.startswith(f"{targets[mapping]}:"):
            raise f.fail(f"{what}: mapping and target are not a mapping of the manifest and its layout")
        f.count(f"{what}: bytes", inp.get("bytes"))
        read, ok, bad = (
            f.count(f"{what}: {k}", inp.get(k))
            for k in ("records_read", "records_written", "records_rejected")
        )
        if read != ok + bad:
            raise f.fail(f"{what}: records_read is not records_written + records_rejected")
        written[target] = written.get(target, 0) + ok
    run_id = f.sha("run_id", m.get("run_id"))
    inputs = [(i["mapping"], i["source"], i["sha256"]) for i in m["inputs"]]
    f.equal(
        "run_id",
        run_id,
        run_identity(inputs, m["definitions"], m["options"]),
        "the inputs, definitions and options",
    )
    _check_outputs(f, m, written)
    return m


def _among_definitions(
    f: Fields, defined: set[tuple[str, str, str]], kind: str, what: str, entry: dict[str, Any]
) -> None:
    """A layouts/mappings entry names a file the definitions list holds, with the same sha256."""
    path = f.text(f"{what}: path", entry.get("path"))
    sha = f.sha(f"{what}: sha256", entry.get("sha256"))
    if (kind, path, sha) not in defined:
        raise f.fail(f"{what} is not among the definitions")


def _check_outputs(f: Fields, m: dict[str, Any], written: dict[str, int]) -> None:
    owned = [f.inside(f"output_set entry {i}", n) for i, n in enumerate(m["output_set"])]
    if len(set(owned)) != len(owned):
        raise f.fail("output_set names a file twice")
    load_ids = f.obj("load_ids", m.get("load_ids"))
    for writer, load_id in load_ids.items():
        f.sha(f"load_ids.{writer}", load_id)
    rejects = f.obj("rejects", m.get("rejects"))
    reject_rows = f.count("rejects.rows", rejects.get("rows"))
    reject_records = f.count("rejects.records", rejects.get("records"))
    hashed, writers = [], set()
    for i, o in enumerate(m["outputs"]):
        what = f"outputs entry {i}"
        o = f.obj(what, o)
        writer = f.text(f"{what}: writer", o.get("writer"))
        target = f.text(f"{what}: target", o.get("target"))
        rows = f.count(f"{what}: rows", o.get("rows"))
        if writer not in REPORT_WRITERS and "details" not in o:
            raise f.fail(f"{what}: details is missing")
        details = f.obj(f"{what}: details", o.get("details", {}))
        if o.get("sha256") in (None, ""):  # a database output (PostgreSQL): not a file of the folder
            f.text(f"{what}: path", o.get("path"))
            if o["path"] in owned or writer in REPORT_WRITERS or not details:
                raise f.fail(f"{what}: sha256 is missing")
        else:
            f.sha(f"{what}: sha256", o["sha256"])
            hashed.append(f.inside(f"{what}: path", o.get("path")))
        if "load_id" in details:
            f.equal(
                f"{what}: details.load_id", details["load_id"], load_ids.get(writer), f"load_ids.{writer}"
            )
        if writer == "duckdb" or "content_sha256" in details:
            f.sha(f"{what}: details.content_sha256", details.get("content_sha256"))
        if writer == "rejects":
            f.equal(f"{what}: rows", rows, reject_rows, "rejects.rows")
            if target != "rejects" or o["path"] not in ("rejects.parquet", "rejects.csv"):
                raise f.fail(f"{what}: not a rejects file")
        elif writer == "text":
            if target != PurePosixPath(o["path"]).stem:
                raise f.fail(f"{what}: target does not name its report")
        else:
            writers.add(writer)
            parts = target.split(",")
            if any(p not in written for p in parts):
                raise f.fail(f"{what}: target is not a target of the inputs")
            if o.get("sha256"):  # a file holds every row written (a database load may skip, see its details)
                f.equal(f"{what}: rows", rows, sum(written[p] for p in parts), "the inputs' records_written")
    if sorted(hashed) != sorted(owned):
        raise f.fail("output_set does not name exactly the files of the outputs")
    if set(load_ids) != writers:
        raise f.fail("load_ids do not name exactly the writers of the outputs")
    inputs_rejected = sum(i["records_rejected"] for i in m["inputs"])
    f.equal("rejects.records", reject_records, inputs_rejected, "the inputs' records_rejected")
    status = m.get("status")
    if status not in RUN_STATUSES:
        raise f.fail(f"status is not one of {', '.join(RUN_STATUSES)}")
    flagged = (
        (m.get("text") or {}).get("gaiji", {}).get("flagged_records", 0)
        if isinstance(m.get("text"), dict)
        else 0
    )
    expected = "rejects" if reject_records else "flagged" if flagged else "ok"
    f.equal("status", status, expected, "the records rejected and flagged")
    f.equal("exit_code", m.get("exit_code"), 0 if status == "ok" else 1, "status")


def check_job_manifest(data: dict[str, Any], where: str) -> tuple[Fields, list[dict[str, Any]]]:
    """A job manifest checked field by field; returns its entries (each an object with the fields verify reads)."""
    f = Fields(where)
    job = f.obj("job", data.get("job"))
    f.text("job.id", job.get("id"))
    f.text("job.path", job.get("path"))
    f.sha("job.sha256", job.get("sha256"))
    entries = f.seq("entries", data.get("entries"))
    codes = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise f.fail(f"entry {i} is not an object (found {type(e).__name__})")
        if not isinstance(e.get("id"), str) or not e["id"]:
            raise f.fail(f"entry {i}: id is not a non-empty string")
        what = f"entry {i} ({e['id']})"
        status = e.get("status")
        if status not in ENTRY_STATUSES:
            raise f.fail(f"{what}: status is not one of {', '.join(ENTRY_STATUSES)}")
        code = e.get("exit_code")
        if not isinstance(code, int) or isinstance(code, bool) or code not in (0, 1, 2, 3):
            raise f.fail(f"{what}: exit_code is not 0, 1, 2 or 3")
        codes.append(code)
        if status in ("failed", "not_run"):
            if e.get("manifest") is not None or e.get("manifest_sha256") is not None:
                raise f.fail(f"{what}: status {status} but a manifest")
            if (status == "failed") != (code >= 2):
                raise f.fail(f"{what}: exit_code does not agree with status {status}")
            continue
        if not e.get("manifest"):
            raise f.fail(f"{what}: status {status} but no manifest")
        f.inside(f"{what}: manifest", e["manifest"])
        f.sha(f"{what}: manifest_sha256", e.get("manifest_sha256"))
    status, code = data.get("status"), data.get("exit_code")
    if status == "running":
        if code is not None:
            raise f.fail("exit_code is set while status is running")
    else:
        failed = any(e["status"] == "failed" for e in entries)
        f.equal("exit_code", code, max(codes, default=0), "the entries' exit codes")
        f.equal("status", status, "failed" if failed else "rejects" if code else "ok", "the entries")
    return f, entries


def check_entry_against(f: Fields, entry: dict[str, Any], i: int, manifest: dict[str, Any]) -> None:
    """The job manifest's summary of an entry restates its manifest: they must agree."""
    what = f"entry {i} ({entry['id']})"
    inputs = manifest["inputs"]
    f.equal(f"{what}: run_id", entry.get("run_id"), manifest["run_id"], "its manifest")
    for k in ("records_read", "records_written", "records_rejected"):
        f.equal(f"{what}: {k}", entry.get(k), sum(x[k] for x in inputs), "its manifest")
    if entry["status"] == "skipped":
        f.equal(
            f"{what}: exit_code", entry["exit_code"], 1 if entry["records_rejected"] else 0, "status skipped"
        )
    else:
        f.equal(f"{what}: status", entry["status"], manifest["status"], "its manifest")
        f.equal(f"{what}: exit_code", entry["exit_code"], manifest["exit_code"], "its manifest")
    gyomu = sorted({str(mp["target"]).split("@")[0].split("/")[-1] for mp in manifest["mappings"]})
    f.equal(f"{what}: gyomu", entry.get("gyomu"), gyomu, "its manifest's mappings")
    folder = PurePosixPath(entry["manifest"]).parent
    summary = [
        {
            "writer": o["writer"],
            "target": o["target"],
            "rows": o["rows"],
            "path": (folder / o["path"]).as_posix() if o.get("sha256") else o["path"],
            **({"status": o["details"]["status"]} if (o.get("details") or {}).get("status") else {}),
        }
        for o in manifest["outputs"]
    ]
    f.equal(f"{what}: outputs", entry.get("outputs"), summary, "its manifest's outputs")


def check_against_files(f: Fields, m: dict[str, Any], folder: Path, intact: set[str]) -> None:
    """Fields that restate what the run's files hold, for the files that hashed as recorded (`intact`, their
    manifest paths): each input's size, the reject summary (from rejects.parquet), each text report's rows."""
    import polars as pl

    from midlayout.pipeline.run_manifest import _reject_summary

    for i, lay in enumerate(m["layouts"]):
        head = _yaml_head(resolve_ref(lay["path"], folder)) if lay["path"] in intact else None
        if head is not None:
            said = {"id": f"{head.get('family')}/{head.get('gyomu')}", "version": head.get("version")}
            f.equal(f"layouts entry {i}", {k: lay[k] for k in said}, said, "the layout file")
    for i, mp in enumerate(m["mappings"]):
        head = _yaml_head(resolve_ref(mp["path"], folder)) if mp["path"] in intact else None
        if head is not None and isinstance(head.get("mapping"), dict):
            said = {k: head["mapping"].get(k) for k in ("id", "version", "target")}
            f.equal(f"mappings entry {i}", {k: mp.get(k) for k in said}, said, "the mapping file")
    for i, inp in enumerate(m["inputs"]):
        real = resolve_ref(inp["path"], folder)
        if inp["path"] in intact:
            f.equal(f"inputs entry {i}: bytes", inp["bytes"], real.stat().st_size, "the file")
    for i, o in enumerate(m["outputs"]):
        real = resolve_ref(str(o["path"]), folder)
        if o["writer"] not in REPORT_WRITERS or o["path"] not in intact:
            continue
        if o["path"] == "rejects.parquet":
            summary = _reject_summary(pl.read_parquet(real, columns=["file", "record", "stage", "rule"]))
            f.equal("rejects", m["rejects"], summary, "rejects.parquet")
        elif o["writer"] == "text":
            rows = pl.scan_csv(real, infer_schema=False).select(pl.len()).collect().item()
            f.equal(f"outputs entry {i}: rows", o["rows"], rows, "the report's rows")


def _yaml_head(path: Path) -> dict[str, Any] | None:
    """A definition file's top-level mapping, or None when it does not load as one."""
    from midlayout.errors import DefinitionError
    from midlayout.layout.yamlfile import load_yaml

    try:
        data = load_yaml(path).data
    except DefinitionError:
        return None
    return data if isinstance(data, dict) else None
