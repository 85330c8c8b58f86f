"""Generate a pandera (polars) schema from a layout file and turn its failures into rejects."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from midlayout.layout.model import FileDef, Item, Layout
from midlayout.mapping.compile import polars_dtype
from midlayout.rejects import PROVENANCE, empty_rejects, rejects_from
from midlayout.validate.encoding import byte_length
from midlayout.validate.repertoire import bad_chars, of_layout, outside


def _bytes_check(item: Item, encoding: str) -> pa.Check:
    def fn(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(byte_length(pl.col(data.key), encoding) <= item.length)

    return pa.Check(fn, name="length_bytes", error=f"longer than {item.length} bytes in {encoding}")


def _digits_check(item: Item) -> pa.Check:
    if item.type == "number":
        limit = 10 ** (item.length - item.scale)
        return pa.Check(
            lambda d: d.lazyframe.select(pl.col(d.key).abs() < limit),
            name="length_digits",
            error=f"more than {item.length} digits",
        )
    pattern = rf"^[0-9]{{1,{item.length}}}$"
    return pa.Check(
        lambda d: d.lazyframe.select(pl.col(d.key).str.contains(pattern)),
        name="length_digits",
        error=f"not 1 to {item.length} half-width digits",
    )


def _repertoire_check(layout: Layout) -> pa.Check:
    allowed = of_layout(layout.encoding, layout.repertoire)

    def fn(data: pa.PolarsData) -> pl.LazyFrame:
        series = data.lazyframe.select(pl.col(data.key)).collect().to_series()
        return pl.LazyFrame({data.key: ~outside(series, allowed)})

    return pa.Check(fn, name="repertoire", error=f"holds a character outside {' and '.join(allowed)}")


def _checks(item: Item, layout: Layout) -> list[pa.Check]:
    checks = []
    if item.type == "code" and item.code_table:
        table = layout.code_tables[item.code_table]
        checks.append(
            pa.Check.isin(list(table.codes), name="code_domain", error=f"not a code of {table.name}")
        )
    if item.type in ("string", "code"):
        checks.append(_bytes_check(item, layout.encoding) if item.unit == "bytes" else _digits_check(item))
        checks.append(_repertoire_check(layout))
    elif item.type == "number":
        checks.append(_digits_check(item))
    return checks


def schema_for(layout: Layout, file: FileDef, unique_key: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of one layout file: types, 桁数, required items, code domains and the key."""
    columns = {
        it.id: pa.Column(
            polars_dtype(it), nullable=not it.required, checks=_checks(it, layout), title=it.name
        )
        for it in file.items
    }
    return pa.DataFrameSchema(
        columns, unique=list(file.key) if unique_key else None, name=f"{layout.ref}:{file.id}", strict=False
    )


def validate_rows(
    layout: Layout, file: FileDef, rows: pl.DataFrame, unique_key: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate lazily (every failure in one pass); split rows into (valid, rejects). Rows keep provenance."""
    try:
        schema_for(layout, file, unique_key).validate(rows, lazy=True)
        return rows, empty_rejects()
    except SchemaErrors as exc:
        failures = exc.failure_cases
    failures = failures.filter(pl.col("index").is_not_null()).select(
        pl.col("index").cast(pl.UInt32).alias("__row"),
        pl.col("column").fill_null(pl.lit(",".join(file.key))).alias("item"),
        pl.col("check").alias("rule"),
    )
    indexed = rows.with_row_index("__row")
    joined = indexed.join(failures, on="__row")
    names = {it.id: it.name for it in file.items}
    rule = pl.col("rule").replace({"not_nullable": "required"})
    message = pl.col("item").replace(names) + pl.lit(": ") + pl.col("rule")
    joined = _repertoire_messages(
        joined.with_columns(_rule_id(rule).alias("__rule"), message.alias("__msg")), layout
    )
    rejects = rejects_from(
        joined, stage="validate", rule=pl.col("__rule"), item=pl.col("item"), message=pl.col("__msg")
    )
    good = indexed.filter(~pl.col("__row").is_in(failures.get_column("__row").implode())).drop("__row")
    return good, rejects


def repertoire_message(value: str, allowed: tuple[str, ...]) -> str:
    """`outside cp932: U+9AD9 at char 1, ...`: code points and positions, never the value itself."""
    where = ", ".join(f"U+{ord(ch):04X} at char {i + 1}" for i, ch in bad_chars(value, allowed))
    return f"outside {' and '.join(allowed)}: {where}"


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
        pl.when(rule.str.starts_with("longer than"))
        .then(pl.lit("length_bytes"))
        .when(rule.str.starts_with("not 1 to") | rule.str.starts_with("more than"))
        .then(pl.lit("length_digits"))
        .when(rule.str.starts_with("not a code") | rule.str.starts_with("isin"))
        .then(pl.lit("code_domain"))
        .when(rule.str.starts_with("holds a character"))
        .then(pl.lit("repertoire"))
        .when(rule.str.contains("uniqueness"))
        .then(pl.lit("key_unique"))
        .otherwise(rule)
    )


__all__ = ["PROVENANCE", "schema_for", "validate_rows"]
