"""The run manifest: what went in, what came out, and proof that no record was lost."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from midlayout.errors import ConservationError


@dataclass
class InputRecord:
    """Counts and identity of one input file."""

    path: str
    source: str
    mapping: str
    target: str
    bytes: int
    sha256: str
    encoding: str
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    terminator: str | None = None  # fixed-width: crlf, lf or none (as found, for `terminator: auto`)


@dataclass
class Manifest:
    """Everything `manifest.json` records."""

    tool: dict[str, str]
    run_id: str = ""  # run identity (pipeline/runid.py); the tool version above is recorded, not hashed
    load_ids: dict[str, str] = field(default_factory=dict)  # writer name → its load id
    options: dict[str, Any] = field(default_factory=dict)  # the content options hashed into run_id
    definitions: list[dict[str, str]] = field(
        default_factory=list
    )  # every definition file: kind, path, sha256
    layouts: list[dict[str, str]] = field(default_factory=list)
    mappings: list[dict[str, str]] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    output_set: list[str] = field(default_factory=list)  # what this run owns in its folder (relative names)
    output_mode: str = ""  # octal file mode of the outputs (folders: x wherever r)
    rejects: dict[str, Any] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)
    # `proven`: the rules the sources proved, left unchecked (mapping/proof.py); they cannot fail
    validation: dict[str, Any] = field(default_factory=dict)
    text: dict[str, Any] = field(
        default_factory=dict
    )  # 外字 and repertoire findings (pipeline/textreport.py)
    timings: dict[str, float] = field(default_factory=dict)
    # What ran the batches (pipeline/executors): executor, scheduler, workers. Like `timings`, not content:
    # outside the run identity and load ids, and left out when two runs' manifests are compared.
    executor: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    exit_code: int | None = None

    def check_conservation(self) -> None:
        """records_read == records_written + records_rejected for every input, or raise."""
        for inp in self.inputs:
            if inp.records_read != inp.records_written + inp.records_rejected:
                raise ConservationError(
                    f"{inp.path}: read {inp.records_read} != written {inp.records_written} + rejected {inp.records_rejected}"
                )

    def to_dict(self, folder: Path | None = None) -> dict[str, Any]:
        """The manifest as data; with `folder` (where manifest.json lies), file paths are portable references."""
        from midlayout.pipeline.portable import portable_manifest

        data = asdict(self)
        return portable_manifest(data, folder) if folder is not None else data

    def to_json(self, folder: Path | None = None) -> str:
        """manifest.json's text; see `to_dict` for `folder`."""
        return json.dumps(self.to_dict(folder), ensure_ascii=False, indent=2) + "\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename, fsynced."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # never leave a temp file behind
        raise


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest.json back."""
    return json.loads(path.read_text(encoding="utf-8"))
