"""Reconcile two sides of a migration: record counts, distinct persons, amount totals and code counts, per file."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from midlayout.audit.inputs import Source, connect, locate, register
from midlayout.audit.tolerance import check_tolerance
from midlayout.duckcon import open_duckdb
from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.layout.standard import sha256_file
from midlayout.sql import ident as q

PERSON_ITEM = "atena_no"
KINDS = ("records", "persons", "amount", "code")
FIGURE_LABELS = {
    "records": "件数 (records)",
    "persons": "人数 (distinct 宛名番号)",
    "amount": "合計",
    "code": "コード別件数",
}
Step = Callable[[str], None]


@dataclass(frozen=True)
class Tolerances:
    """Allowed absolute difference per kind of figure (0 = must match exactly)."""

    records: float = 0
    persons: float = 0
    amount: float = 0
    code: float = 0

    @classmethod
    def parse(cls, specs: list[str]) -> Tolerances:
        """From `KIND=VALUE` strings, e.g. `amount=1`; UsageError on anything else."""
        values: dict[str, float] = {}
        for spec in specs:
            kind, _, value = spec.partition("=")
            if kind not in KINDS:
                raise UsageError(
                    f"--tolerance {spec!r}: kind must be one of {', '.join(KINDS)} (as KIND=VALUE)"
                )
            try:
                values[kind] = check_tolerance(float(value), f"--tolerance {kind}")
            except ValueError:
                raise UsageError(f"--tolerance {spec!r}: {value!r} is not a number") from None
        return cls(**values)


@dataclass
class Side:
    """One side of a reconciliation: its label, its layout files and every file whose sha256 goes on the certificate."""

    label: str
    sources: dict[str, Source] = field(default_factory=dict)  # "<layout ref>:<file id>" -> Source
    extra_files: list[tuple[str, Path]] = field(default_factory=list)
    hash_sources: bool = True  # False when the sources are staging files, not the files delivered


def amount_items(file: FileDef) -> list[Item]:
    """The items reconcile totals as amounts: every number item that is not part of the key."""
    return [it for it in file.items if it.type == "number" and it.id not in file.key]


def person_item(file: FileDef) -> str | None:
    """The item persons are counted by: `atena_no`, else the item named 宛名番号 (a 基本データリスト's
    データ項目ID-derived id), else none."""
    if PERSON_ITEM in file.item_ids:
        return PERSON_ITEM
    return next((it.id for it in file.items if it.name == "宛名番号"), None)


def figures(con: duckdb.DuckDBPyConnection, view: str, file: FileDef) -> dict[tuple[str, str, str], Any]:
    """Figures of one typed view: records, persons, totals of non-key number items, counts per code value."""
    amounts = amount_items(file)
    person = person_item(file)
    cols = ["count(*)"] + ([f"count(DISTINCT {q(person)})"] if person else [])
    cols += [f"coalesce(sum({q(it.id)}), 0)" for it in amounts]
    row = list(con.execute(f"SELECT {', '.join(cols)} FROM {q(view)}").fetchone() or ())
    found: dict[tuple[str, str, str], Any] = {("records", "", ""): int(row.pop(0))}
    if person:
        found[("persons", person, "")] = int(row.pop(0))
    found.update({("amount", it.id, ""): _number(v) for it, v in zip(amounts, row, strict=True)})
    for it in (i for i in file.items if i.type == "code"):
        counts = con.execute(
            f"SELECT coalesce({q(it.id)}, ''), count(*) FROM {q(view)} GROUP BY 1"
        ).fetchall()
        found.update({("code", it.id, str(v)): int(n) for v, n in counts})
    return found


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _label(kind: str, item: str, value: str, file: FileDef | None) -> str:
    name = _item_name(file, item) if item else ""
    if kind == "code":
        return f"{name} = {value or '(空)'}"
    return f"{FIGURE_LABELS[kind]} {name}".strip()


def _item_name(file: FileDef | None, item: str) -> str:
    try:
        return file.item(item).name if file else item
    except KeyError:
        return item


def compare(
    target: str,
    file: FileDef | None,
    left: dict[tuple[str, str, str], Any] | None,
    right: dict[tuple[str, str, str], Any] | None,
    tol: Tolerances,
) -> list[dict[str, Any]]:
    """One check per figure found on either side; a figure missing on one side counts as 0 there."""
    if left is None or right is None:  # the file exists on one side only: its record count fails
        rec = ("records", "", "")
        return [_check(target, file, rec, left and left.get(rec), right and right.get(rec), tol)]
    keys = sorted(set(left) | set(right), key=lambda k: (KINDS.index(k[0]), k[1], k[2]))
    return [_check(target, file, k, left.get(k, 0), right.get(k, 0), tol) for k in keys]


def _check(
    target: str, file: FileDef | None, key: tuple[str, str, str], lv: Any, rv: Any, tol: Tolerances
) -> dict[str, Any]:
    kind, item, value = key
    diff = None if lv is None or rv is None else rv - lv
    passed = diff is not None and abs(diff) <= getattr(tol, kind)
    return {
        "file": target,
        "figure": kind,
        "item": item,
        "value": value,
        "label": _label(kind, item, value, file),
        "left": lv,
        "right": rv,
        "difference": diff,
        "tolerance": getattr(tol, kind),
        "passed": passed,
    }


def side_figures(
    con: duckdb.DuckDBPyConnection, side: Side, prefix: str, work: Path, step: Step
) -> dict[str, dict[tuple[str, str, str], Any]]:
    """Figures of every file of a side, keyed like `side.sources`."""
    found = {}
    for i, (target, src) in enumerate(sorted(side.sources.items())):
        step(f"{side.label}: {src.label}")
        view = f"{prefix}{i}"
        register(con, src, view, work)
        found[target] = figures(con, view, src.file)
    return found


def _files(side: Side, name: str) -> list[dict[str, str]]:
    found = (
        {(f"{name}: {src.file.id}", src.path) for src in side.sources.values()}
        if side.hash_sources
        else set()
    )
    found |= {(f"{name}: {role}", p) for role, p in side.extra_files}
    return [
        {"side": role, "path": str(p), "sha256": sha256_file(p)}
        for role, p in sorted(found, key=lambda x: str(x[1]))
    ]


def certificate(
    left: Side,
    right: Side,
    tol: Tolerances,
    step: Step = lambda _t: None,
    memory_limit: str = "2GB",
    extra_checks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Compare the figures of two sides; return the certificate as plain data (`passed` is the verdict)."""
    with tempfile.TemporaryDirectory(prefix="midlayout-reconcile-") as tmp:
        con = connect(Path(tmp), memory_limit)
        try:
            lf = side_figures(con, left, "l", Path(tmp), step)
            rf = side_figures(con, right, "r", Path(tmp), step)
        finally:
            con.close()
    checks = list(extra_checks or [])
    for target in sorted(set(lf) | set(rf)):
        src = left.sources.get(target) or right.sources[target]
        checks += compare(target, src.file, lf.get(target), rf.get(target), tol)
    step("hashing files")
    return {
        "command": "reconcile",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "left": {"label": left.label},
        "right": {"label": right.label},
        "tolerances": vars(tol),
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
        "failed": sum(not c["passed"] for c in checks),
        "files": _files(left, "left") + _files(right, "right"),
    }


def delivery(spec: str, layout: Layout, label: str | None = None) -> Side:
    """A delivery in the layout: a convert output folder, a folder of files, a .duckdb database or one file."""
    path = Path(spec)
    side = Side(label or spec)
    if path.is_dir():
        for f in layout.files:
            for cand in (
                path / "parquet" / layout.gyomu / f"{f.id}.parquet",
                path / "standard" / layout.gyomu / f"{f.id}.csv",
                path / f"{f.id}.parquet",
                path / f"{f.id}.csv",
            ):
                if cand.is_file():
                    side.sources[layout.target(f.id)] = locate(str(cand), layout, f.id)
                    break
    elif path.suffix == ".duckdb" and path.is_file():
        for f in layout.files:
            if _has_table(path, layout.gyomu, f.id):
                side.sources[layout.target(f.id)] = locate(f"{path}:{layout.gyomu}.{f.id}", layout)
    else:
        src = locate(spec, layout)
        side.sources[layout.target(src.file.id)] = src
    if not side.sources:
        raise UsageError(f"{spec}: holds no file of {layout.ref} ({', '.join(f.id for f in layout.files)})")
    return side


def _has_table(path: Path, schema: str, table: str) -> bool:
    with open_duckdb(str(path), read_only=True) as con:
        row = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()
        return row is not None and bool(row[0])
