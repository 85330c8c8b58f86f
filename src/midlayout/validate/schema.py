"""The pandera (polars) schema of a layout file, built from the same rules as `rules.validate_rows`.

`convert` validates with the fused expressions of `rules`; this schema is the same rules in pandera's
terms, for use as a pandera schema and as the reference the fused path is tested against. Importing this
module imports pandera (and pandas, when installed), which `convert` does not need.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from midlayout.layout.model import FileDef, Layout
from midlayout.mapping.compile import polars_dtype
from midlayout.rejects import PROVENANCE, empty_rejects, rejects_from
from midlayout.validate.repertoire import of_layout, outside
from midlayout.validate.rules import (
    REQUIRED,
    REQUIRED_ERROR,
    Rule,
    file_rules,
    item_rules,
    repertoire_message,
)

_CROSS = "cross-item rule "  # the error text of a cross-item check; the rule id follows it


def _row_check(rule: Rule) -> pa.Check:
    """A cross-item rule as a check on the column it is reported on, reading the other columns too.

    (A DataFrame-level check would make pandera serialise failing rows, `_raw` bytes included, to JSON.)
    """
    row_ok = rule.row_ok
    assert row_ok is not None
    return pa.Check(
        lambda d: d.lazyframe.select(row_ok.fill_null(True)),
        name=rule.id,
        error=_CROSS + rule.id,
        ignore_na=False,
    )


def _check(rule: Rule, layout: Layout) -> pa.Check:
    if rule.ok is not None:
        ok = rule.ok
        return pa.Check(lambda d: d.lazyframe.select(ok(pl.col(d.key))), name=rule.id, error=rule.error)
    allowed = of_layout(layout.encoding, layout.repertoire)

    def fn(data: pa.PolarsData) -> pl.LazyFrame:
        series = data.lazyframe.select(pl.col(data.key)).collect().to_series()
        return pl.LazyFrame({data.key: ~outside(series, allowed)})

    return pa.Check(fn, name=rule.id, error=rule.error)


def schema_for(layout: Layout, file: FileDef, unique_key: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of one layout file: types, 桁数, required items, code domains and the key."""
    cross = [r for r in file_rules(layout, file) if r.row_ok is not None]
    columns = {
        it.id: pa.Column(
            polars_dtype(it),
            nullable=not it.required,
            checks=[_check(r, layout) for r in item_rules(it, layout)]
            + [_row_check(r) for r in cross if r.item.id == it.id],
            title=it.name,
        )
        for it in file.items
    }
    return pa.DataFrameSchema(
        columns,
        unique=list(file.key) if unique_key else None,
        name=f"{layout.ref}:{file.id}",
        strict=False,
    )


def validate_with_pandera(
    layout: Layout, file: FileDef, rows: pl.DataFrame, unique_key: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate lazily (every failure in one pass); split rows into (valid, rejects). Rows keep provenance."""
    try:
        schema_for(layout, file, unique_key).validate(rows, lazy=True)
        return rows, empty_rejects()
    except SchemaErrors as exc:
        failures = exc.failure_cases
    cross = {_CROSS + r.id: r for r in file_rules(layout, file) if r.row_ok is not None}
    failures = failures.filter(pl.col("index").is_not_null()).select(
        pl.col("index").cast(pl.UInt32).alias("__row"),
        pl.col("check")
        .replace_strict({k: r.item.id for k, r in cross.items()}, default=pl.col("column"))
        .fill_null(pl.lit(",".join(file.key)))
        .alias("item"),
        pl.col("check").alias("rule"),
    )
    indexed = rows.with_row_index("__row")
    joined = indexed.join(failures, on="__row")
    names = {it.id: it.name for it in file.items}
    rule = pl.col("rule").replace({"not_nullable": REQUIRED_ERROR})
    message = (
        pl.when(pl.col("rule").is_in(list(cross)))
        .then(pl.col("rule").replace_strict({k: r.error for k, r in cross.items()}, default=None))
        .otherwise(pl.col("item").replace(names) + pl.lit(": ") + rule)
    )
    joined = _repertoire_messages(
        joined.with_columns(_rule_id(rule).alias("__rule"), message.alias("__msg")), layout
    )
    # Report in the order of `rules.validate_rows`: by row, then item, then rule (required first).
    order = {f"{r.item.id}\t{r.id}": k for k, r in enumerate(file_rules(layout, file))}
    rank = (pl.col("item") + pl.lit("\t") + pl.col("__rule")).replace_strict(order, default=len(order))
    joined = joined.sort(pl.col("__row"), rank, maintain_order=True)
    rejects = rejects_from(
        joined, stage="validate", rule=pl.col("__rule"), item=pl.col("item"), message=pl.col("__msg")
    )
    good = indexed.filter(~pl.col("__row").is_in(failures.get_column("__row").implode())).drop("__row")
    return good, rejects


def _repertoire_messages(joined: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Name each character a repertoire failure is about (error path: failing rows only)."""
    rows = joined.with_row_index("__i").filter(pl.col("__rule") == "repertoire")
    if not rows.height:
        return joined
    allowed = of_layout(layout.encoding, layout.repertoire)
    fixes = [
        (i, repertoire_message(str(r[item]), allowed))
        for i, item, r in zip(
            rows.get_column("__i"), rows.get_column("item"), rows.iter_rows(named=True), strict=True
        )
    ]
    patch = pl.DataFrame(fixes, schema={"__i": pl.UInt32, "__fix": pl.String}, orient="row")
    out = joined.with_row_index("__i").join(patch, on="__i", how="left")
    return out.with_columns(pl.coalesce("__fix", "__msg").alias("__msg")).drop("__i", "__fix")


def _rule_id(rule: pl.Expr) -> pl.Expr:
    """Stable machine-readable rule ids from pandera check names/errors."""
    return (
        pl.when(rule.str.starts_with(_CROSS))
        .then(rule.str.strip_prefix(_CROSS))
        .when(rule.str.starts_with("more than") & rule.str.ends_with(" characters"))
        .then(pl.lit("length_chars"))
        .when(rule.str.starts_with("longer than"))
        .then(pl.lit("length_bytes"))
        .when(rule.str.starts_with("not 1 to") | rule.str.starts_with("more than"))
        .then(pl.lit("length_digits"))
        .when(rule.str.starts_with("not a code") | rule.str.starts_with("isin"))
        .then(pl.lit("code_domain"))
        .when(rule.str.starts_with("holds a character"))
        .then(pl.lit("repertoire"))
        .when(rule == REQUIRED_ERROR)
        .then(pl.lit(REQUIRED))
        .when(rule.str.contains("uniqueness"))
        .then(pl.lit("key_unique"))
        .otherwise(rule)
    )


__all__ = ["PROVENANCE", "schema_for", "validate_with_pandera"]
