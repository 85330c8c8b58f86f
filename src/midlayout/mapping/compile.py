"""Compile one file mapping into expressions, and apply it to a decoded batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.mapping import FileMapping, ItemRule, Lookup, Mapping
from midlayout.layout.model import FileDef, Item
from midlayout.layout.source import NUMERIC_TYPES, SourceFile
from midlayout.mapping.ops import Check, OpContext, Shared, Value, apply_op
from midlayout.mapping.pushdown import remaining_ops
from midlayout.rejects import PROVENANCE, REC, empty_rejects, rejects_from
from midlayout.text.normalize import trim


def lookup_key(column: str) -> pl.Expr:
    """The lookup-key rule, the one place it is written: the key as text, trimmed of ASCII and
    full-width spaces at both ends (tables hold their keys so, and a match is compared so)."""
    return trim(pl.col(column).cast(pl.String), " \u3000", "both")


@dataclass
class CompiledFile:
    """A target file's expressions, checks and lookups, ready to apply to batches of its source."""

    mapping: Mapping
    rule: FileMapping
    target: FileDef
    source: SourceFile
    values: list[pl.Expr]
    checks: list[Check]
    lookups: dict[str, Lookup]
    shared: list[pl.Expr] = field(default_factory=list)  # computed once per batch, before `values`
    counters: list[tuple[str, str, pl.Expr]] = field(default_factory=list)  # (item, what, mask)


def with_shared(rows: pl.DataFrame, compiled: CompiledFile) -> pl.DataFrame:
    """`rows` with the shared columns added; a shared expression that reads another (an item's value built
    on a 和暦 parse) is added after it, the others side by side."""
    done: dict[str, int] = {}
    levels: list[list[pl.Expr]] = []
    for expr in compiled.shared:
        level = max((done[r] + 1 for r in expr.meta.root_names() if r in done), default=0)
        done[expr.meta.output_name()] = level
        levels += [[] for _ in range(level + 1 - len(levels))]
        levels[level].append(expr)
    for level_exprs in levels:
        rows = rows.with_columns(level_exprs)
    return rows


def _lookup_col(item: str) -> tuple[str, str]:
    return f"__lk_{item}", f"__lkf_{item}"


def _source_value(rule: ItemRule, source: SourceFile, reader_trims: dict[str, int] | None = None) -> Value:
    if rule.kind == "const":
        return Value(pl.lit(rule.const, dtype=pl.String), pl.String)
    if rule.kind == "concat":
        # Fixed-width parts carry padding; each part is right-trimmed before joining (documented), here
        # or, for a field in `reader_trims`, by the reader (mapping/pushdown.py).
        done = reader_trims or {}
        parts = [
            pl.col(f) if done.get(f, 0) & 3 else trim(pl.col(f).cast(pl.String), " \u3000", "right")
            for f in rule.fields
        ]
        return Value(pl.concat_str(parts, separator=rule.sep, ignore_nulls=True), pl.String)
    if rule.kind == "lookup":
        return Value(pl.col(_lookup_col(rule.item)[0]), pl.String)
    field = source.field(rule.fields[0])
    if field.type in NUMERIC_TYPES:
        return Value(pl.col(field.id), pl.Decimal if field.scale else pl.Int64)
    return Value(pl.col(field.id), pl.String)


def _cast(value: Value, item: Item, ctx: OpContext) -> tuple[pl.Expr, list[Check]]:
    """Bring the value to the item's type; a value that does not convert is a reject, never a null."""
    target = polars_dtype(item)
    if value.dtype == pl.Decimal and item.type == "number":  # a source field with an implied decimal point
        out = value.expr.cast(target, strict=False)
        lost = value.expr.is_not_null() & (out.is_null() | (out != value.expr)).fill_null(True)
        return out.alias(item.id), [
            ctx.check("decimal_lost", lost, f"value does not fit {item.length} digits, {item.scale} decimals")
        ]
    if value.dtype == type(target) or (item.type in ("string", "code") and value.dtype == pl.String):
        expr = value.expr
        if item.type in ("string", "code"):
            # `when` names its input twice; polars would compute an expression (concat, replace) twice
            if ctx.shared is not None and not expr.meta.is_column():
                expr = ctx.shared.column(expr, "value")
            expr = pl.when(expr == "").then(None).otherwise(expr)
        return expr.alias(item.id), []
    src = value.text().str.strip_chars(" \u3000")
    blank = src.is_null() | (src == "")
    if item.type == "date":
        out = src.str.to_date("%Y%m%d", strict=False)
    elif item.type == "flag":
        out = src.replace_strict(["0", "1"], [False, True], default=None, return_dtype=pl.Boolean)
    elif item.type == "number":
        # A number with decimals takes at most its scale of them (written 1234.50); more is a reject, not rounding.
        frac = rf"(\.[0-9]{{1,{item.scale}}})?" if item.scale else ""
        out = (
            pl.when(src.str.contains(rf"^[+-]?[0-9]+{frac}$"))
            .then(src)
            .otherwise(None)
            .cast(target, strict=False)
        )
    else:
        out = src
    check = ctx.check(f"not_a_{item.type}", ~blank & out.is_null(), f"value is not a valid {item.type}")
    return out.alias(item.id), [check]


def compile_file(
    mapping: Mapping, rule: FileMapping, reader_trims: dict[str, int] | None = None
) -> CompiledFile:
    """Compile the item rules of one target file.

    `reader_trims` (mapping/pushdown.py) names the fields the reader trims as it decodes; the trim ops
    that did that work are left out.
    """
    target = mapping.target.file(rule.target)
    source = mapping.source.file(rule.source)
    values, checks, lookups = [], [], {}
    shared = Shared()
    counters: list[tuple[str, str, pl.Expr]] = []
    rules = {r.item: r for r in rule.items}
    for item in target.items:
        r = rules.get(item.id)
        if r is None:
            values.append(pl.lit(None, dtype=polars_dtype(item)).alias(item.id))
            continue
        src = source.field(r.fields[0]) if r.fields else None
        ctx = OpContext(
            item.id, src.id if src else None, src.start if src else 0, mapping.code_maps, shared, counters
        )
        value = _source_value(r, source, reader_trims)
        if r.lookup:
            lookups[item.id] = r.lookup
            found = pl.col(_lookup_col(item.id)[1]).fill_null(False)
            checks.append(
                ctx.check(
                    "lookup_missing",
                    pl.col(r.lookup.match).is_not_null() & ~found,
                    f"no {r.lookup.source}.{r.lookup.key} matches {r.lookup.match}",
                )
            )
        for op in remaining_ops(r, reader_trims) if reader_trims else r.ops:
            value, op_checks = apply_op(value, op, ctx)
            checks += op_checks
        expr, cast_checks = _cast(value, item, ctx)
        values.append(expr)
        checks += cast_checks
    return CompiledFile(mapping, rule, target, source, values, checks, lookups, shared.columns(), counters)


def count_values(
    compiled: CompiledFile, rows: pl.DataFrame, written: pl.DataFrame, tables: dict[Lookup, pl.DataFrame]
) -> dict[str, int]:
    """`{"partial_null:item": n}` over the source rows that passed mapping and validation (`written`)."""
    if not compiled.counters or not written.height:
        return {}
    kept = _join_lookups(rows.filter(pl.col(REC).is_in(written.get_column(REC).implode())), compiled, tables)
    kept = with_shared(kept, compiled)
    sums = kept.select(
        [mask.fill_null(False).sum().alias(f"{what}:{item}") for item, what, mask in compiled.counters]
    )
    return {k: int(v) for k, v in sums.row(0, named=True).items()}


def _join_lookups(
    rows: pl.DataFrame, compiled: CompiledFile, tables: dict[Lookup, pl.DataFrame]
) -> pl.DataFrame:
    for item, lk in compiled.lookups.items():
        value_col, found_col = _lookup_col(item)
        table = tables[lk].select(
            pl.col(lk.key).alias("__lk_key"),
            pl.col(lk.value).cast(pl.String).alias(value_col),
            pl.lit(True).alias(found_col),
        )
        key = lookup_key(lk.match)
        rows = rows.with_columns(key.alias("__lk_key")).join(
            table, on="__lk_key", how="left", maintain_order="left"
        )
        rows = rows.drop("__lk_key")
    return rows


def _check_rejects(rows: pl.DataFrame, failing: pl.Series, chk: Check) -> pl.DataFrame:
    """Reject rows for one check; an expression message is evaluated on the failing source rows only."""
    bad = rows.filter(failing)
    message = chk.message
    if isinstance(message, pl.Expr):
        bad = bad.with_columns(message.alias("__msg"))
        message = pl.col("__msg")
    if chk.detail is not None:
        bad = bad.with_columns(chk.detail.alias("__det"))
    return rejects_from(
        bad,
        stage="map",
        rule=chk.rule,
        item=chk.item,
        field=chk.field,
        message=message,
        field_start=chk.field_start,
        detail=pl.col("__det") if chk.detail is not None else None,
    )


def apply(
    compiled: CompiledFile, rows: pl.DataFrame, tables: dict[Lookup, pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Map a decoded batch: returns (rows in the target layout + provenance, rejects)."""
    rows = _join_lookups(rows, compiled, tables)
    rows = with_shared(rows, compiled)
    names = [f"__chk{i}" for i in range(len(compiled.checks))]
    masks = [chk.mask.fill_null(False).alias(name) for chk, name in zip(compiled.checks, names, strict=True)]
    frame = rows.select(*[pl.col(c) for c in PROVENANCE], *compiled.values, *masks)
    if not masks:
        return frame, empty_rejects()
    failing = frame.select(pl.col(names).any()).row(0)
    rejects = [
        _check_rejects(rows, frame.get_column(n), chk)
        for chk, n, fails in zip(compiled.checks, names, failing, strict=True)
        if fails
    ]
    if not rejects:  # the usual batch: no check failed, nothing to filter
        return frame.drop(names), empty_rejects()
    good = frame.filter(~pl.any_horizontal(names)).drop(names)
    return good, pl.concat(rejects)


def build_lookup_table(frames: list[pl.DataFrame], lookup: Lookup) -> pl.DataFrame:
    """Keep only the key and value a lookup needs; ambiguous keys are dropped (then reported as missing)."""
    empty = pl.DataFrame(schema={lookup.key: pl.String, lookup.value: pl.String})
    table = pl.concat([empty, *[f.select(pl.col(lookup.key, lookup.value).cast(pl.String)) for f in frames]])
    table = table.with_columns(lookup_key(lookup.key))
    return table.filter(pl.len().over(lookup.key) == 1)
