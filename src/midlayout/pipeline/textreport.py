"""The text-fidelity reports of a run: every 外字 (gaiji-report.csv) and every character outside the
target repertoire (repertoire-report.csv), each with counts and its first locations. Codes only, never
the values they were found in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from midlayout.layout.gaiji import GaijiOptions
from midlayout.readers.gaiji import GAIJI_SCHEMA
from midlayout.rejects import DETAIL
from midlayout.validate.repertoire import suggestions

FIRST = 5  # locations listed per code
_NAME = pl.col("file").str.extract(r"([^/\\]+)$")


def gaiji_report(occurrences: pl.DataFrame) -> pl.DataFrame:
    """One row per (code, status, action): count, records, first locations; unmapped first."""
    occ = occurrences.cast(GAIJI_SCHEMA).sort("file", "record", "byte_offset")  # type: ignore[arg-type]
    where = pl.concat_str(
        [
            _NAME,
            pl.lit(":"),
            pl.col("record").cast(pl.String),
            pl.lit(" "),
            pl.col("field"),
            pl.lit("@"),
            pl.col("byte_offset").cast(pl.String),
        ]
    )
    report = occ.group_by("code", "char", "status", "action", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.struct("file", "record").n_unique().cast(pl.Int64).alias("records"),
        where.head(FIRST).str.join("; ").alias("first_locations"),
    )
    return report.sort(pl.col("status") == "mapped", -pl.col("count"), "code")


def repertoire_report(rejects: pl.DataFrame) -> pl.DataFrame:
    """One row per character outside the target repertoire, with MJ縮退 suggestions (never applied)."""
    bad = rejects.filter(pl.col("rule") == "repertoire").sort("file", "record")
    schema = {
        "char": pl.String,
        "code": pl.String,
        "outside": pl.String,
        "count": pl.Int64,
        "records": pl.Int64,
        "suggestions": pl.String,
        "first_locations": pl.String,
    }
    if not bad.height:
        return pl.DataFrame(schema=schema)
    hits = bad.with_columns(
        pl.col(DETAIL).struct.field("outside").alias("outside"),
        pl.col(DETAIL).struct.field("chars").alias("hit"),
    ).explode("hit")
    hits = hits.with_columns(
        pl.col("hit").struct.field("code").alias("code"),
        pl.col("hit").struct.field("pos").cast(pl.String).alias("pos"),
    )
    where = pl.concat_str(
        [
            _NAME,
            pl.lit(":"),
            pl.col("record").cast(pl.String),
            pl.lit(" "),
            pl.col("item"),
            pl.lit(" char "),
            pl.col("pos"),
        ]
    )
    report = hits.group_by("code", "outside", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.struct("file", "record").n_unique().cast(pl.Int64).alias("records"),
        where.head(FIRST).str.join("; ").alias("first_locations"),
    )
    # A detail code is one character's code point(s) in hex, space-separated: an IVS is a base and a selector.
    codes = report.get_column("code").to_list()
    chars = ["".join(chr(int("0x" + cp, 0)) for cp in c.split()) for c in codes]
    hints = [" ".join(_suggest(ch, o)) for ch, o in zip(chars, report.get_column("outside"), strict=True)]
    report = report.with_columns(
        pl.Series("char", chars),
        pl.Series("suggestions", hints),
        pl.Series("code", [" ".join(f"U+{cp}" for cp in c.split()) for c in codes], dtype=pl.String),
    )
    return report.select(list(schema)).sort(-pl.col("count"), "code")


def _suggest(ch: str, outside: str) -> list[str]:
    """Candidates that fit every repertoire named in the reject (e.g. "cp932 and jisx0208")."""
    wanted = outside.split(" and ")
    lists = [set(suggestions(ch, r)) for r in wanted]
    return [c for c in suggestions(ch, wanted[-1]) if all(c in s for s in lists)]


def write_reports(out_dir: Path, occurrences: pl.DataFrame, rejects: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Write gaiji-report.csv and repertoire-report.csv (always, header only when clean)."""
    reports = {
        "gaiji-report.csv": gaiji_report(occurrences),
        "repertoire-report.csv": repertoire_report(rejects),
    }
    for name, frame in reports.items():
        temp = out_dir / f".{name}.tmp"
        frame.write_csv(temp)
        temp.replace(out_dir / name)
    return reports


def manifest_section(
    reports: dict[str, pl.DataFrame], occurrences: pl.DataFrame, options: dict[str, GaijiOptions]
) -> dict[str, Any]:
    """The `text` section of the manifest: 外字 and repertoire findings by code, plus the tables used."""
    gaiji, rep = reports["gaiji-report.csv"], reports["repertoire-report.csv"]
    unmapped = gaiji.filter(pl.col("status") == "unmapped")
    kept = occurrences.filter((pl.col("status") == "unmapped") & (pl.col("action") == "kept"))
    return {
        "gaiji": {
            "tables": {
                m: (
                    {"path": str(o.table.path), "sha256": o.table.sha256, "entries": len(o.table.entries)}
                    if o.table
                    else None
                )
                for m, o in options.items()
            },
            "unmapped_policy": {m: o.unmapped for m, o in options.items()},
            "occurrences": int(gaiji.get_column("count").sum()),
            "unmapped_occurrences": int(unmapped.get_column("count").sum()),
            "flagged_records": kept.select("file", "record").unique().height,
            "codes": gaiji.drop("first_locations").to_dicts(),
        },
        "repertoire": {
            "occurrences": int(rep.get_column("count").sum()),
            "chars": rep.drop("first_locations").to_dicts(),
        },
    }
