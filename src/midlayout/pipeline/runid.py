"""Run identity and load ids: what makes two runs "the same data", hashed once and recorded in the manifest.

The run identity is a sha256 over the inputs, every definition file that shapes the output (layout, its code
tables, mapping, source layout, vendor code maps, 外字 tables) and the options that change content (外字
policy and table, validator). The tool version is recorded in the manifest, never hashed: an upgrade that
changes output must change a definition or an option to be seen. Where a file lies does not matter, only
its bytes. Each writer's load id is the run identity plus that writer's content options (everything but
its connection options), so `postgres.mode=upsert` and `append` of the same data are different loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from midlayout.layout.bundled import portable_ref
from midlayout.layout.gaiji import GaijiOptions, GaijiTable
from midlayout.layout.mapping import Mapping as DataMapping
from midlayout.layout.standard import sha256_file

# Kinds of definition file, in the order the manifest lists them.
KINDS = ("layout", "code_table", "mapping", "source_layout", "code_map", "gaiji_table")


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def definition_files(
    mappings: Iterable[DataMapping], gaiji_table: GaijiTable | None = None
) -> list[dict[str, str]]:
    """Every definition file of a run as {kind, path, sha256}, each file once, in KINDS order then path.

    `path` is the file's portable reference (`package:layouts/…` for a bundled file, see `portable_ref`)."""
    found: dict[tuple[str, str], str] = {}

    def add(kind: str, path: Path, sha: str | None = None) -> None:
        key = (kind, portable_ref(path))
        if key not in found:
            found[key] = sha or sha256_file(path)

    for m in mappings:
        add("layout", m.target.path, m.target.sha256)
        for table in m.target.code_tables.values():
            add("code_table", table.path)
        add("mapping", m.path, m.sha256)
        add("source_layout", m.source.path, m.source.sha256)
        for code_map in m.code_maps.values():
            add("code_map", code_map.path)
        if m.gaiji.table is not None:
            add("gaiji_table", m.gaiji.table.path, m.gaiji.table.sha256)
    if gaiji_table is not None:
        add("gaiji_table", gaiji_table.path, gaiji_table.sha256)
    return [
        {"kind": kind, "path": path, "sha256": sha}
        for (kind, path), sha in sorted(found.items(), key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1]))
    ]


def content_options(gaiji: Mapping[str, GaijiOptions], validator: str) -> dict[str, Any]:
    """The run options that change what is written: 外字 policy and table per mapping, and the validator."""
    return {
        "gaiji": {
            mapping_id: {
                "unmapped": g.unmapped,
                "table": g.table.sha256 if g.table else None,
                "encoding": g.encoding,
            }
            for mapping_id, g in sorted(gaiji.items())
        },
        "validator": validator,
    }


def run_identity(
    inputs: Iterable[tuple[str, str, str]],
    definitions: Iterable[Mapping[str, str]],
    options: Mapping[str, Any],
) -> str:
    """sha256 over (mapping, source, sha256) of each input, (kind, sha256) of each definition, and the options."""
    return _digest(
        {
            "inputs": sorted(inputs),
            "definitions": sorted((d["kind"], d["sha256"]) for d in definitions),
            "options": options,
        }
    )


def writer_load_id(
    run_id: str, writer: str, options: Mapping[str, Any], connection: Iterable[str] = ()
) -> str:
    """A writer's load id: the run identity and the writer's options, less those that only say where to connect."""
    skip = set(connection)
    content = {k: str(v) for k, v in sorted(options.items()) if k not in skip}
    return _digest({"run": run_id, "writer": writer, "options": content})
