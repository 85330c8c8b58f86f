"""Keyed diff of two extracts of one layout file, out of core in DuckDB: added, removed, changed, duplicate keys."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from midlayout.audit.inputs import NORM_PREFIX, Normalise, Source, connect, register
from midlayout.audit.outputs import copy_atomic, mask_sql, write_json, write_text_atomic
from midlayout.audit.tolerance import check_tolerance
from midlayout.errors import UsageError
from midlayout.layout.model import FileDef, Item
from midlayout.layout.standard import sha256_file
from midlayout.memlimit import parse_memory_limit
from midlayout.sql import ident as q
from midlayout.sql import literal, number

CLASSES = ("unchanged", "changed", "added", "removed", "duplicate_key")
SAMPLE_ROWS = 50


@dataclass(frozen=True)
class DiffOptions:
    """What to compare and how: key items, ignored items, numeric tolerance, text folding, masking."""

    key: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    tolerance: float = 0.0
    norm: Normalise = field(default_factory=Normalise)
    show_values: bool = False
    memory_limit: str = "2GB"

    def __post_init__(self) -> None:
        # Checked here, not where SQL is built: `--tolerance inf` or `--memory-limit lots` are usage errors
        # from any entry point, never a DuckDB error (exit 3).
        object.__setattr__(self, "tolerance", check_tolerance(self.tolerance))
        object.__setattr__(self, "memory_limit", parse_memory_limit(self.memory_limit))


@dataclass
class DiffResult:
    """The summary (plain data, what `--json` prints) and the paths written."""

    summary: dict[str, Any]

    @property
    def identical(self) -> bool:
        return bool(self.summary["identical"])


def _check_options(file: FileDef, opts: DiffOptions) -> tuple[list[str], list[Item]]:
    key = list(opts.key) or list(file.key)
    unknown = [i for i in (*key, *opts.ignore) if i not in file.item_ids]
    if unknown:
        raise UsageError(f"unknown item(s) {unknown} in {file.id} (items: {', '.join(file.item_ids)})")
    compared = [it for it in file.items if it.id not in key and it.id not in opts.ignore]
    return key, compared


def _differs(it: Item, opts: DiffOptions) -> str:
    """SQL that is true when the item differs between b and a (never NULL)."""
    if it.type == "number" and opts.tolerance > 0:
        b, a = f"b.{q(it.id)}", f"a.{q(it.id)}"
        return f"coalesce(abs({b} - {a}) > {number(opts.tolerance)}, ({b} IS NULL) <> ({a} IS NULL))"
    name = NORM_PREFIX + it.id if opts.norm.active and it.type in ("string", "code") else it.id
    return f"(b.{q(name)} IS DISTINCT FROM a.{q(name)})"


def _dup_table(con: duckdb.DuckDBPyConnection, key: list[str]) -> int:
    keys = ", ".join(q(k) for k in key)
    con.execute(f"""CREATE TEMP TABLE dup AS SELECT {keys},
        count(*) FILTER (WHERE s = 0) AS n_before, count(*) FILTER (WHERE s = 1) AS n_after
        FROM (SELECT {keys}, 0 AS s FROM b UNION ALL SELECT {keys}, 1 AS s FROM a)
        GROUP BY ALL HAVING count(*) FILTER (WHERE s = 0) > 1 OR count(*) FILTER (WHERE s = 1) > 1""")
    return int(con.execute("SELECT count(*) FROM dup").fetchone()[0])  # type: ignore[index]


def _delta_table(
    con: duckdb.DuckDBPyConnection, key: list[str], compared: list[Item], opts: DiffOptions, has_dups: bool
) -> None:
    """Every row that is not unchanged, with one boolean per compared item and both values."""
    keys = ", ".join(q(k) for k in key)
    side = "(SELECT *, true AS _in FROM {v}" + (f" ANTI JOIN dup USING ({keys}))" if has_dups else ")")
    on = " AND ".join(f"b.{q(k)} IS NOT DISTINCT FROM a.{q(k)}" for k in key)
    flags = [f"{_differs(it, opts)} AS {q('d:' + it.id)}" for it in compared]
    values = [f"b.{q(it.id)} AS {q('old:' + it.id)}, a.{q(it.id)} AS {q('new:' + it.id)}" for it in compared]
    any_diff = " OR ".join(_differs(it, opts) for it in compared) or "false"
    key_cols = ", ".join(f"coalesce(b.{q(k)}, a.{q(k)}) AS {q(k)}" for k in key)
    con.execute(f"""CREATE TEMP TABLE delta AS SELECT {key_cols},
        CASE WHEN b._in IS NULL THEN 'added' WHEN a._in IS NULL THEN 'removed' ELSE 'changed' END AS class
        {"".join(", " + c for c in flags + values)}
        FROM {side.format(v="b")} b FULL OUTER JOIN {side.format(v="a")} a ON {on}
        WHERE b._in IS NULL OR a._in IS NULL OR {any_diff}""")


def _counts(
    con: duckdb.DuckDBPyConnection, compared: list[Item]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    by_class = dict.fromkeys(CLASSES, 0)
    by_class.update(
        {c: int(n) for c, n in con.execute("SELECT class, count(*) FROM delta GROUP BY class").fetchall()}
    )
    sums = ", ".join(f"coalesce(sum(CAST({q('d:' + it.id)} AS INTEGER)), 0)" for it in compared) or "0"
    row = con.execute(f"SELECT {sums} FROM delta WHERE class = 'changed'").fetchone() or ()
    by_item = {it.id: int(n) for it, n in zip(compared, row, strict=False)}
    rows_b, rows_a = con.execute("SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM a)").fetchone()  # type: ignore[misc]
    dup_b, dup_a, dup_keys = con.execute(
        "SELECT coalesce(sum(n_before), 0), coalesce(sum(n_after), 0), count(*) FROM dup"
    ).fetchone()  # type: ignore[misc]
    by_class["duplicate_key"] = int(dup_keys)
    by_class["unchanged"] = int(rows_b) - int(dup_b) - by_class["removed"] - by_class["changed"]
    sizes = {"before": int(rows_b), "after": int(rows_a), "dup_before": int(dup_b), "dup_after": int(dup_a)}
    return by_class, by_item, sizes


def _changes_sql(key: list[str], compared: list[Item], show: bool) -> str:
    """Changed items in long form: key, item, 項目名称, old, new (values masked unless `show`)."""
    keys = ", ".join(q(k) for k in key)
    parts = []
    for it in compared:
        old = mask_sql(f"CAST({q('old:' + it.id)} AS VARCHAR)", show)
        new = mask_sql(f"CAST({q('new:' + it.id)} AS VARCHAR)", show)
        parts.append(
            f"SELECT {keys}, {literal(it.id)} AS item, {literal(it.name)} AS item_name, {old} AS old, {new} AS new "
            f"FROM delta WHERE class = 'changed' AND {q('d:' + it.id)}"
        )
    return (
        " UNION ALL ".join(parts)
        or f"SELECT {keys}, '' AS item, '' AS item_name, '' AS old, '' AS new FROM delta LIMIT 0"
    )


def _rows_sql(key: list[str]) -> str:
    keys = ", ".join(q(k) for k in key)
    return (
        f"SELECT {keys}, class, NULL::BIGINT AS n_before, NULL::BIGINT AS n_after FROM delta "
        f"UNION ALL SELECT {keys}, 'duplicate_key' AS class, n_before, n_after FROM dup"
    )


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _describe(src: Source, rows: int) -> dict[str, Any]:
    return {"path": src.label, "kind": src.kind, "rows": rows, "sha256": sha256_file(src.path)}


def _summary(
    before: Source,
    after: Source,
    key: list[str],
    opts: DiffOptions,
    counts: tuple[dict[str, int], dict[str, int], dict[str, int]],
) -> dict[str, Any]:
    by_class, by_item, sizes = counts
    names = {it.id: it.name for it in before.file.items}
    return {
        "command": "diff",
        "layout": before.layout.ref,
        "file": {"id": before.file.id, "name": before.file.name},
        "key": key,
        "before": _describe(before, sizes["before"]),
        "after": _describe(after, sizes["after"]),
        "options": {
            "ignore": list(opts.ignore),
            "tolerance": opts.tolerance,
            "show_values": opts.show_values,
            "ignore_trailing_spaces": opts.norm.trailing_spaces,
            "ignore_width": opts.norm.width,
        },
        "counts": by_class,
        "duplicates": {
            "keys": by_class["duplicate_key"],
            "rows_before": sizes["dup_before"],
            "rows_after": sizes["dup_after"],
        },
        "changes_by_item": [{"item": i, "name": names[i], "count": n} for i, n in by_item.items() if n],
        "identical": all(by_class[c] == 0 for c in CLASSES if c != "unchanged"),
    }


def _keys_shown(sql: str, key: list[str], rest: str, hidden: set[str], tail: str = "") -> str:
    """`sql` with its key columns as reports show them: masked when in `hidden` (key items that are not the
    layout's key, e.g. a name given with --key, are personal values). `tail` may filter and order by the
    unmasked key as `_sort0`, `_sort1`, …"""
    sort = ", ".join(f"{q(k)} AS {q(f'_sort{i}')}" for i, k in enumerate(key))
    cols = ", ".join(
        f"{mask_sql(f'CAST({q(k)} AS VARCHAR)', False)} AS {q(k)}" if k in hidden else q(k) for k in key
    )
    return f"SELECT {cols}, {rest} FROM (SELECT {sort}, * FROM ({sql})){tail}"


def _hidden_keys(key: list[str], file: FileDef, show: bool) -> set[str]:
    """Key items whose values reports mask: those not declared as the layout's key, unless --show-values."""
    return set() if show else {k for k in key if k not in file.key}


_CHANGE_COLS = "item, item_name, old, new"
_ROW_COLS = "class, n_before, n_after"


def _samples(
    con: duckdb.DuckDBPyConnection, key: list[str], compared: list[Item], show: bool, hidden: set[str]
) -> dict[str, Any]:
    order = ", ".join(q(f"_sort{i}") for i in range(len(key)))
    changes = _changes_sql(key, compared, show)
    return {
        "changes": _records(
            con,
            _keys_shown(changes, key, _CHANGE_COLS, hidden, f" ORDER BY {order}, item LIMIT {SAMPLE_ROWS}"),
        ),
        "rows": _records(
            con,
            _keys_shown(
                _rows_sql(key),
                key,
                _ROW_COLS,
                hidden,
                f" WHERE class <> 'changed' ORDER BY class, {order} LIMIT {SAMPLE_ROWS}",
            ),
        ),
    }


def _write_outputs(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    key: list[str],
    compared: list[Item],
    opts: DiffOptions,
    fmt: str,
    hidden: set[str],
) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sql in (
        ("diff-rows", _keys_shown(_rows_sql(key), key, _ROW_COLS, hidden)),
        (
            "diff-changes",
            _keys_shown(_changes_sql(key, compared, opts.show_values), key, _CHANGE_COLS, hidden),
        ),
    ):
        path = out / f"{name}.{fmt}"
        copy_atomic(con, sql, path, fmt)
        written.append(str(path))
    return written


def diff(
    before: Source,
    after: Source,
    opts: DiffOptions,
    out: Path | None = None,
    fmt: str = "parquet",
    html: bool = False,
    step: Callable[[str], None] = lambda _text: None,
) -> DiffResult:
    """Compare two extracts of the same layout file by key; write details (and HTML) to `out` when given.

    >>> # diff(locate("old.parquet", lay), locate("new.parquet", lay), DiffOptions(key=("atena_no",)))
    """
    if before.file.id != after.file.id:
        raise UsageError(f"{before.label} is {before.file.id} but {after.label} is {after.file.id}")
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"--format must be parquet or csv, not {fmt!r}")
    key, compared = _check_options(before.file, opts)
    hidden = _hidden_keys(key, before.file, opts.show_values)
    with tempfile.TemporaryDirectory(prefix="midlayout-diff-") as tmp:
        con = connect(Path(tmp), opts.memory_limit)
        try:
            step(f"reading {before.label}")
            register(con, before, "b", Path(tmp), opts.norm)
            step(f"reading {after.label}")
            register(con, after, "a", Path(tmp), opts.norm)
            step("looking for duplicate keys")
            has_dups = _dup_table(con, key) > 0
            step("joining on the key and comparing items")
            _delta_table(con, key, compared, opts, has_dups)
            step("counting and hashing inputs")
            summary = _summary(before, after, key, opts, _counts(con, compared))
            summary["samples"] = _samples(con, key, compared, opts.show_values, hidden)
            if out is not None:
                step(f"writing details to {out}")
                summary["outputs"] = _write_outputs(con, out, key, compared, opts, fmt, hidden)
        finally:
            con.close()
    if out is not None:
        _write_reports(summary, out, html)
    return DiffResult(summary)


def _write_reports(summary: dict[str, Any], out: Path, html: bool) -> None:
    if html:
        from midlayout.audit.html import diff_report

        path = out / "diff.html"
        summary["outputs"].append(str(path))
        write_text_atomic(path, diff_report(summary))
    summary["outputs"].append(str(out / "diff-summary.json"))
    write_json(out / "diff-summary.json", summary)
