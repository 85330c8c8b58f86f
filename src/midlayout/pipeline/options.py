"""`ConvertOptions`: everything a conversion takes besides its mappings, inputs and output folder, checked once.

Every entry point (`convert`, `validate`, `run` job entries, `audit reconcile` re-mapping a run) builds
one, so a bad value is the same usage error (exit 2) whichever command passed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from midlayout import kernels
from midlayout.errors import InputError, Location, UsageError
from midlayout.layout.bundled import resolve_ref
from midlayout.layout.gaiji import UNMAPPED_POLICIES, GaijiOptions, GaijiTable, load_gaiji_table
from midlayout.layout.mapping import Mapping
from midlayout.layout.standard import sha256_file
from midlayout.memlimit import parse_memory_limit
from midlayout.pipeline.executors import check_executor
from midlayout.pipeline.outputset import DEFAULT_OUTPUT_MODE, parse_output_mode
from midlayout.readers import DEFAULT_BATCH_SIZE
from midlayout.validate import crossfile
from midlayout.validate.registry import check_validator

DEFAULT_WRITERS: Final = ("parquet", "duckdb", "standard")
# DuckDB's limits when no --memory-limit is given: the cross-file checks over the staged rows, and the
# staging of a lookup table in the main process (the idle workers' memory counts alongside).
CROSSFILE_MEMORY_LIMIT: Final = crossfile.MEMORY_LIMIT
LOOKUP_MEMORY_LIMIT: Final = "128MB"


@dataclass(frozen=True)
class ConvertOptions:
    """How to convert. `writer_options` maps a writer name to its options (see each writer's OPTIONS);
    `gaiji_table` and `gaiji_unmapped` ("reject" or "flag") override what the mappings name; `workers`
    processes read, map and validate batches (None: one per CPU for large inputs, else in-process), with
    the same outputs whatever the number; `validator` is "fused" or "pandera" (same rejects);
    `memory_limit` (e.g. "1GB") bounds DuckDB in the cross-file checks and lookup staging, and the cross-file
    checks that run in memory (validate/crossfile.py: by default up to 2M rows); `kernels`
    names the fast paths used (see midlayout.kernels); `overwrite` lets the run replace another run's output
    set in its folder, and `output_mode` is the file mode of the outputs (docs/run-integrity.md); `executor`
    ("local" or "dask") runs the batches, `scheduler` is a Dask scheduler's address (None with dask: a
    LocalCluster of `workers` processes). Neither the executor nor the scheduler changes content."""

    writers: tuple[str, ...] = DEFAULT_WRITERS
    writer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int | None = None
    gaiji_table: GaijiTable | None = None
    gaiji_unmapped: str | None = None
    validator: str = "fused"
    memory_limit: str | None = None
    kernels: str = kernels.FAST
    # Input framing (readers/preflight.py): an empty input is exit 2 unless allowed; the run stops when more
    # than this share of an input's first records (200 at least) fail to decode while another encoding fits.
    allow_empty: bool = False
    max_reject_rate: float = 0.5
    overwrite: bool = False  # replace another run's output set in the folder (docs/run-integrity.md)
    output_mode: int = DEFAULT_OUTPUT_MODE  # file mode of the outputs; folders get x where r
    executor: str = "local"  # what runs the batches (pipeline/executors): "local" or "dask"
    scheduler: str | None = None  # with "dask": tcp://host:8786; None starts a LocalCluster

    def __post_init__(self) -> None:
        object.__setattr__(self, "writers", tuple(self.writers))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 1):
            raise UsageError("--workers must be at least 1")
        if self.gaiji_unmapped is not None and self.gaiji_unmapped not in UNMAPPED_POLICIES:
            raise UsageError(f"--gaiji-unmapped must be one of {', '.join(UNMAPPED_POLICIES)}")
        if self.memory_limit is not None:
            object.__setattr__(self, "memory_limit", parse_memory_limit(self.memory_limit))
        check_validator(self.validator)
        rate = self.max_reject_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise UsageError(f"--max-reject-rate must be between 0 and 1, not {rate!r}")
        object.__setattr__(self, "output_mode", parse_output_mode(self.output_mode))
        if self.kernels not in kernels.known():
            raise UsageError(f"unknown kernels {self.kernels!r} ({', '.join(kernels.known())})")
        if self.kernels != kernels.FAST and self.workers not in (None, 1):
            raise UsageError(f"kernels {self.kernels!r} run in this process only (workers = 1)")
        check_executor(self.executor, self.scheduler)
        if self.scheduler is not None and self.workers is not None:
            # Not ignored silently: the cluster's own workers run the pieces, however many it has.
            raise UsageError(
                "--workers sizes the LocalCluster; with --scheduler the cluster's workers run the pieces "
                "(start more with `dask worker`)"
            )
        if self.kernels != kernels.FAST and self.executor != "local":
            raise UsageError(f"kernels {self.kernels!r} run in this process only (--executor local)")
        if len(set(self.writers)) != len(self.writers):
            raise UsageError("a writer is named twice")
        stray = sorted(set(self.writer_options) - set(self.writers))
        if stray:
            raise UsageError(
                f"options given for writer {stray[0]!r}, which is not among the writers of this run"
            )

    @property
    def crossfile_memory_limit(self) -> str:
        return self.memory_limit or CROSSFILE_MEMORY_LIMIT

    @property
    def lookup_memory_limit(self) -> str:
        return self.memory_limit or LOOKUP_MEMORY_LIMIT

    def gaiji(self, mappings: list[Mapping]) -> dict[str, GaijiOptions]:
        """Per mapping: its own 外字 table and policy, overridden by the run's (`--gaiji`, `--gaiji-unmapped`)."""
        return gaiji_options(mappings, self.gaiji_table, self.gaiji_unmapped)


def gaiji_options(
    mappings: list[Mapping], table: GaijiTable | None, unmapped: str | None
) -> dict[str, GaijiOptions]:
    """Per mapping: its own 外字 table and policy, overridden by the run's (`--gaiji`, `--gaiji-unmapped`)."""
    return {
        m.id: GaijiOptions(
            table or m.gaiji.table, unmapped or m.gaiji.unmapped, None if table else m.gaiji.encoding
        )
        for m in mappings
    }


def options_of_run(manifest: dict[str, Any], mappings: list[Mapping], where: str) -> ConvertOptions:
    """The options a recorded run converted with, as far as they change content (its 外字 table and policy,
    its validator), rebuilt from its manifest; the table must be unchanged since the run."""
    gaiji = manifest.get("text", {}).get("gaiji", {})
    tables, policies = gaiji.get("tables", {}), gaiji.get("unmapped_policy", {})
    table: GaijiTable | None = None
    unmapped: str | None = None
    for m in mappings:
        recorded = tables.get(m.id)
        own = m.gaiji.table
        # the manifest names the table relative to its own folder (pipeline/portable.py)
        path = resolve_ref(str(recorded["path"]), Path(where).parent) if recorded else None
        if (
            recorded
            and path
            and (
                own is None or recorded["sha256"] != own.sha256 or path.resolve() != Path(own.path).resolve()
            )
        ):
            if not path.is_file() or sha256_file(path) != recorded["sha256"]:
                raise InputError(
                    f"外字 table of the run missing or changed since the run (sha256 differs from {where})",
                    Location(file=str(path)),
                )
            table = load_gaiji_table(path)
        policy = policies.get(m.id)
        if policy and policy != m.gaiji.unmapped:
            unmapped = policy
    return ConvertOptions(
        writers=(),
        gaiji_table=table,
        gaiji_unmapped=unmapped,
        validator=manifest.get("tool", {}).get("validator", "fused"),
    )
