"""The pandera (polars) schema of a layout file, built from the same rules as `rules.validate_rows`.

`convert` validates with the fused expressions of `rules`; this schema is the same rules in pandera's
terms, for use as a pandera schema and as the reference the fused path is tested against. Importing this
module imports pandera (and pandas, when installed), which `convert` does not need.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.rejects import DETAIL_TYPE, PROVENANCE, empty_rejects, rejects_from
from midlayout.validate.repertoire import of_layout, outside
from midlayout.validate.rules import (
    CONTROL_CHAR,
    REQUIRED,
    REQUIRED_ERROR,
    Proven,
    Rule,
    control_message,
    file_rules,
    item_rules,
    repertoire_detail,
    repertoire_message,
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


def _row_check(rule: Rule) -> pa.Check:
    """A cross-item rule as a check on the column it is reported on, reading the other columns too.

    (A DataFrame-level check would make pandera serialise failing rows, `_raw` bytes included, to JSON.)
    """
    row_ok = rule.row_ok
    assert row_ok is not None
    return pa.Check(
        lambda d: d.lazyframe.select(row_ok.fill_null(True)), name=rule.id, error=rule.error, ignore_na=False
    )


def column_rules(
    item: Item, layout: Layout, file: FileDef, allow: Mapping[str, str] | None = None, proven: Proven = ()
) -> list[Rule]:
    """The checks of an item's column, in order: its value rules (less those `proven`), then the
    cross-item rules reported on it."""
    cross = [r for r in file_rules(layout, file) if r.row_ok is not None and r.item.id == item.id]
    return item_rules(item, layout, (allow or {}).get(item.id, ""), proven) + cross


def schema_for(
    layout: Layout,
    file: FileDef,
    unique_key: bool = True,
    allow: Mapping[str, str] | None = None,
    proven: Proven = (),
) -> pa.DataFrameSchema:
    """The pandera schema of one layout file: types, 桁数, required items, code domains, cross-item rules and the key.

    `allow`: item id → control characters the mapping allows there (the `control_char` check); `proven`:
    (item, rule) pairs the run's source proves (mapping/proof.py), left out.
    """
    columns = {
        it.id: pa.Column(
            polars_dtype(it),
            nullable=not it.required,
            checks=[
                _row_check(r) if r.row_ok is not None else _check(r, layout)
                for r in column_rules(it, layout, file, allow, proven)
            ],
            title=it.name,
        )
        for it in file.items
    }
    return pa.DataFrameSchema(
        columns, unique=list(file.key) if unique_key else None, name=layout.target(file.id), strict=False
    )


def validate_with_pandera(
    layout: Layout,
    file: FileDef,
    rows: pl.DataFrame,
    unique_key: bool = False,
    allow: Mapping[str, str] | None = None,
    proven: Proven = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate lazily (every failure in one pass); split rows into (valid, rejects). Rows keep provenance.

    `proven`: rules the run's source proves (mapping/proof.py), left out of the schema."""
    try:
        schema_for(layout, file, unique_key, allow, proven).validate(rows, lazy=True)
        return rows, empty_rejects()
    except SchemaErrors as exc:
        failures = exc.failure_cases
    failures = failures.filter(pl.col("index").is_not_null()).join(
        _rule_table(layout, file, allow, proven), on=["column", "check_number"], how="left"
    )
    # A failed check carries its rule as data: its position among the item's rules (`check_number`), or
    # pandera's own check name for the checks pandera adds (nullability, the key's uniqueness).
    builtin = pl.col("check").replace_strict(_PANDERA_CHECKS, default=pl.col("check"))
    failures = failures.select(
        pl.col("index").cast(pl.UInt32).alias("__row"),
        pl.col("column").fill_null(pl.lit(",".join(file.key))).alias("item"),
        pl.coalesce("__rule", builtin).alias("__rule"),
        pl.coalesce(
            "__error",
            pl.when(pl.col("check") == "not_nullable").then(pl.lit(REQUIRED_ERROR)).otherwise("check"),
        ).alias("__error"),
        pl.col("__cross"),
    )
    indexed = rows.with_row_index("__row")
    joined = indexed.join(failures, on="__row")
    names = {it.id: it.name for it in file.items}
    message = (
        pl.when(pl.col("__cross").fill_null(False))
        .then(pl.col("__error"))  # a cross-item rule's message is whole (it names its items)
        .otherwise(pl.col("item").replace(names) + pl.lit(": ") + pl.col("__error"))
    )
    joined = _repertoire_messages(joined.with_columns(message.alias("__msg")), layout, file, allow)
    # Report in the order of `rules.validate_rows`: by row, then item, then rule (required first).
    order = {f"{r.item.id}\t{r.id}": k for k, r in enumerate(file_rules(layout, file, allow, proven))}
    rank = (pl.col("item") + pl.lit("\t") + pl.col("__rule")).replace_strict(order, default=len(order))
    joined = joined.sort(pl.col("__row"), rank, maintain_order=True)
    rejects = rejects_from(
        joined,
        stage="validate",
        rule=pl.col("__rule"),
        item=pl.col("item"),
        message=pl.col("__msg"),
        detail=pl.col("__detail"),
    )
    good = indexed.filter(~pl.col("__row").is_in(failures.get_column("__row").implode())).drop("__row")
    return good, rejects


def _repertoire_messages(
    joined: pl.DataFrame, layout: Layout, file: FileDef, allow: Mapping[str, str] | None
) -> pl.DataFrame:
    """Name each character a repertoire or control_char failure is about, in the message and (repertoire)
    as data (error path: failing rows only)."""
    joined = joined.with_columns(pl.lit(None, dtype=DETAIL_TYPE).alias("__detail"))
    rows = joined.with_row_index("__i").filter(pl.col("__rule").is_in(["repertoire", CONTROL_CHAR]))
    if not rows.height:
        return joined
    allowed = of_layout(layout.encoding, layout.repertoire)
    items = {it.id: it for it in file.items}
    index: list[int] = []
    messages: list[str] = []
    details: list[dict[str, object] | None] = []
    for i, rule, item, r in zip(
        rows.get_column("__i"),
        rows.get_column("__rule"),
        rows.get_column("item"),
        rows.iter_rows(named=True),
        strict=True,
    ):
        index.append(i)
        if rule == CONTROL_CHAR:
            messages.append(control_message(items[item], str(r[item]), (allow or {}).get(item, ""), layout))
            details.append(None)
        else:
            messages.append(repertoire_message(str(r[item]), allowed))
            details.append(repertoire_detail(str(r[item]), allowed))
    patch = pl.DataFrame(
        {"__i": index, "__fix": messages, "__det": details},
        schema={"__i": pl.UInt32, "__fix": pl.String, "__det": DETAIL_TYPE},
    )
    out = joined.with_row_index("__i").join(patch, on="__i", how="left")
    return out.with_columns(
        pl.coalesce("__fix", "__msg").alias("__msg"), pl.coalesce("__det", "__detail").alias("__detail")
    ).drop("__i", "__fix", "__det")


_PANDERA_CHECKS = {
    "not_nullable": REQUIRED,
    "field_uniqueness": "key_unique",
    "multiple_fields_uniqueness": "key_unique",
}


def _rule_table(
    layout: Layout, file: FileDef, allow: Mapping[str, str] | None = None, proven: Proven = ()
) -> pl.DataFrame:
    """(item, position among its checks) → rule id and error, as `schema_for` lists the checks."""
    rows = [
        (it.id, k, r.id, r.error, r.row_ok is not None)
        for it in file.items
        for k, r in enumerate(column_rules(it, layout, file, allow, proven))
    ]
    schema = {"column": pl.String, "check_number": pl.Int32, "__rule": pl.String, "__error": pl.String}
    return pl.DataFrame(rows, schema={**schema, "__cross": pl.Boolean}, orient="row")


__all__ = ["PROVENANCE", "schema_for", "validate_with_pandera"]
