"""Deterministic synthetic vendor extracts (Faker ja_JP, fixed seed) for tests, samples and benchmarks."""

from __future__ import annotations

from pathlib import Path

from midlayout.synth import vendor_a, vendor_b

__all__ = ["generate_vendor_a", "generate_vendor_b"]


def generate_vendor_a(
    out_dir: Path,
    households: int,
    seed: int,
    traps: bool = False,
    *,
    source: Path | None = None,
    workers: int | None = None,
) -> dict[str, Path]:
    """Write JUMIN.DAT, SETAI.DAT and ZEI.DAT (fixed-width CP932) to `out_dir`; paths by source file id.

    Same seed, same bytes, whatever `workers` (processes; default one per CPU, used when there are several
    50,000-household chunks). With `traps`, deliberate bad records go into the first 30 households.
    `source` overrides the vendor A source layout (default: the bundled copy of mappings/vendor_a/source.yaml).
    """
    return vendor_a.write(Path(out_dir), households, seed, traps, source or vendor_a.SOURCE, workers).paths


def generate_vendor_b(
    out_dir: Path,
    households: int,
    seed: int,
    traps: bool = False,
    *,
    source: Path | None = None,
    workers: int | None = None,
    encoding: str = "utf-8-sig",
) -> dict[str, Path]:
    """Write person.csv and household.csv (UTF-8 with BOM, all quoted, CRLF) to `out_dir`; paths by file id.

    Same seed, same bytes, whatever `workers`. With `traps`, deliberate bad records go into the first
    12 households. `source` overrides the vendor B source layout (default: mappings/vendor_b/source.yaml).
    `encoding="cp932"` writes the same rows in CP932 without a BOM (source layout source-cp932.yaml).
    """
    src = source or (vendor_b.SOURCE if encoding == "utf-8-sig" else vendor_b.SOURCE_CP932)
    return vendor_b.write(Path(out_dir), households, seed, traps, src, workers, encoding=encoding).paths
