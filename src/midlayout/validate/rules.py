"""The row rules of a layout file (必須, 桁数, code domains, repertoire), and their fused evaluation.

Each rule is defined once, as a polars expression over the item's column. `validate_rows` evaluates all
of them in one `select` per batch (the hot path); `schema.schema_for` wraps the same expressions as
pandera checks, and a test holds the two to the same rejects. Nulls pass every rule but `required`,
as in pandera.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import polars as pl

from midlayout.layout.crossitem import default_message
from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.model import CrossItemRule, FileDef, Item, Layout
from midlayout.rejects import DETAIL_TYPE, empty_rejects, rejects_from
from midlayout.text import controls
from midlayout.text.encodings import byte_length
from midlayout.validate.repertoire import bad_chars, of_layout, outside

REQUIRED, CODE_DOMAIN, LENGTH_BYTES, LENGTH_DIGITS, LENGTH_CHARS, REPERTOIRE = (
    "required",
    "code_domain",
    "length_bytes",
    "length_digits",
    "length_chars",
    "repertoire",
)
# Variation selectors (standardised and ideographic, IVS): with their base they make one character.
SELECTORS = "[\ufe00-\ufe0f\U000e0100-\U000e01ef]"


def char_length(col: pl.Expr) -> pl.Expr:
    """Characters in `col`, a base and its variation selector counted once (`chars:` 桁数)."""
    return col.str.len_chars() - col.str.count_matches(SELECTORS)


REQUIRED_ERROR = "required, but empty"
CONTROL_CHAR = "control_char"
CONTROL_ERROR = "holds a control character"


@dataclass(frozen=True)
class Rule:
    """One rule on one item: `ok(column)` is true where a value passes (None: a series-level rule)."""

    item: Item
    id: str
    error: str
    ok: Callable[[pl.Expr], pl.Expr] | None = None
    allowed: str = ""  # control_char only: the control characters the mapping allows in this item
    row_ok: pl.Expr | None = None  # a cross-item rule: true where a row passes (over several columns)


def _digits(item: Item) -> Rule:
    if item.type == "number":
        limit = 10 ** (item.length - item.scale)
        return Rule(item, LENGTH_DIGITS, f"more than {item.length} digits", lambda c: c.abs() < limit)
    pattern = rf"^[0-9]{{1,{item.length}}}$"
    return Rule(
        item, LENGTH_DIGITS, f"not 1 to {item.length} half-width digits", lambda c: c.str.contains(pattern)
    )


def _controls(item: Item, allowed: str) -> Rule:
    banned = controls.pattern(allowed)
    return Rule(item, CONTROL_CHAR, CONTROL_ERROR, lambda c: ~c.str.contains(banned), allowed)


# The rules a run may leave out when the source proves them (mapping/proof.py); never control_char,
# required, code domains, digits, keys or references.
PROVABLE = frozenset({LENGTH_BYTES, LENGTH_CHARS, REPERTOIRE})
Proven = Collection[tuple[str, str]]  # (item id, rule id) pairs proven for a run


def item_rules(item: Item, layout: Layout, allowed: str = "", proven: Proven = ()) -> list[Rule]:
    """The value rules of `item`, in the order they are reported (`required` is the column's nullability).

    `allowed`: the control characters the mapping lets this item hold (all others are `control_char`).
    `proven`: (item, rule) pairs the run's source proves (mapping/proof.py), left out; only PROVABLE ones.
    """
    rules = _item_rules(item, layout, allowed)
    if not proven:
        return rules
    return [r for r in rules if r.id not in PROVABLE or (item.id, r.id) not in proven]


def _item_rules(item: Item, layout: Layout, allowed: str) -> list[Rule]:
    rules = []
    if item.type == "code" and item.code_table:
        table = layout.code_tables[item.code_table]
        codes = pl.Series(list(table.codes), dtype=pl.String)
        rules.append(
            Rule(item, CODE_DOMAIN, f"not a code of {table.name}", lambda c: c.is_in(codes.implode()))
        )
    if item.type in ("string", "code"):
        if item.unit == "bytes":
            enc = layout.encoding
            rules.append(
                Rule(
                    item,
                    LENGTH_BYTES,
                    f"longer than {item.length} bytes in {enc}",
                    lambda c: byte_length(c, enc) <= item.length,
                )
            )
        elif item.unit == "chars":
            rules.append(
                Rule(
                    item,
                    LENGTH_CHARS,
                    f"more than {item.length} characters",
                    lambda c: char_length(c) <= item.length,
                )
            )
        else:
            rules.append(_digits(item))
        rules.append(_controls(item, allowed))
        repertoire = of_layout(layout.encoding, layout.repertoire)
        rules.append(Rule(item, REPERTOIRE, f"holds a character outside {' and '.join(repertoire)}"))
    elif item.type == "number":
        rules.append(_digits(item))
    return rules


def file_rules(
    layout: Layout, file: FileDef, allow: Mapping[str, str] | None = None, proven: Proven = ()
) -> list[Rule]:
    """Every rule of `file`, in the order rejects report them: by item, `required` first.

    `allow`: item id → the control characters the mapping allows there (`allow_control`); `proven`: rules
    the run's source proves, left out (`item_rules`).
    """
    rules = []
    for it in file.items:
        if it.required:
            rules.append(Rule(it, REQUIRED, REQUIRED_ERROR, lambda c: c.is_not_null()))
        rules += item_rules(it, layout, (allow or {}).get(it.id, ""), proven)
    return rules + [cross_item_rule(r, file) for r in file.rules]


def cross_item_rule(rule: CrossItemRule, file: FileDef) -> Rule:
    """A cross-item rule as one row expression; reported on its first `require` (else `forbid`) item.

    A row passes when the condition does not hold (a null condition item holds only for `absent`),
    or when every `require` item is present and every `forbid` item is empty.
    """
    items = {it.id: it for it in file.items}
    col = pl.col(rule.when.item)
    if rule.when.op == "present":
        cond = col.is_not_null()
    elif rule.when.op == "absent":
        cond = col.is_null()
    else:
        cond = col.cast(pl.String).is_in(list(rule.when.values)).fill_null(False)
    then = [pl.col(i).is_not_null() for i in rule.require] + [pl.col(i).is_null() for i in rule.forbid]
    target = items[(rule.require or rule.forbid)[0]]
    message = rule.message or default_message(rule, items)
    return Rule(target, rule.id, message, row_ok=~cond | pl.all_horizontal(then))


def _check_dtypes(file: FileDef, rows: pl.DataFrame) -> None:
    """Mapping casts every item to its layout dtype; a mismatch is a bug in midlayout, not bad data."""
    for it in file.items:
        if it.id not in rows.columns:
            raise TypeError(f"{file.id}.{it.id}: item missing from the mapped rows")
        if rows.schema[it.id] != polars_dtype(it):
            raise TypeError(f"{file.id}.{it.id}: dtype {rows.schema[it.id]}, layout says {polars_dtype(it)}")


def validate_rows(
    layout: Layout,
    file: FileDef,
    rows: pl.DataFrame,
    allow: Mapping[str, str] | None = None,
    proven: Proven = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows into (valid, rejects): one reject row per failed rule, every failure of a row reported.

    All expression rules run in one `select`; the repertoire rule is one codec round trip per text column
    (values are walked only in a column that fails). Rows keep their provenance columns. `proven`: rules
    the source proves (mapping/proof.py), not evaluated.
    """
    _check_dtypes(file, rows)
    rules = file_rules(layout, file, allow, proven)
    allowed = of_layout(layout.encoding, layout.repertoire)
    flags: list[pl.Expr] = []
    series: list[pl.Series] = []
    for k, rule in enumerate(rules):
        name = f"__f{k}"
        if rule.row_ok is not None:
            flags.append((~rule.row_ok).fill_null(False).alias(name))
        elif rule.ok is not None:
            flags.append((~rule.ok(pl.col(rule.item.id))).fill_null(False).alias(name))
        else:  # the repertoire: one codec round trip per column
            flags.append(pl.col(name))
            series.append(pl.Series(name, outside(rows.get_column(rule.item.id), allowed)))
    failed = rows.with_columns(series).select(*flags)
    any_failed = failed.select(pl.any_horizontal(pl.all()).alias("__any")).to_series()
    if not any_failed.any():
        return rows, empty_rejects()
    indexed = rows.with_row_index("__row").with_columns(failed)
    bad = indexed.filter(any_failed)
    parts = []
    for k, rule in enumerate(rules):
        hit = bad.filter(pl.col(f"__f{k}"))
        if hit.height:
            parts.append(_rejects(hit, rule, layout).with_columns(pl.lit(k).alias("__k")))
    rejects = pl.concat(parts).sort("__row", "__k").drop("__row", "__k")
    return rows.filter(~any_failed), rejects


def _rejects(hit: pl.DataFrame, rule: Rule, layout: Layout) -> pl.DataFrame:
    if rule.id == REPERTOIRE:
        allowed = of_layout(layout.encoding, layout.repertoire)
        values = hit.get_column(rule.item.id).cast(pl.String).to_list()  # error path only: the failing values
        message: str | pl.Expr = pl.lit(pl.Series([repertoire_message(v, allowed) for v in values]))
        detail = pl.lit(pl.Series([repertoire_detail(v, allowed) for v in values], dtype=DETAIL_TYPE))
    elif rule.row_ok is not None:
        message, detail = rule.error, None
    elif rule.id == CONTROL_CHAR:
        values = hit.get_column(rule.item.id).cast(pl.String).to_list()
        message = pl.lit(
            pl.Series([control_message(rule.item, v, rule.allowed, layout) for v in values], dtype=pl.String)
        )
        detail = None
    else:
        message, detail = f"{rule.item.name}: {rule.error}", None
    out = rejects_from(hit, stage="validate", rule=rule.id, item=rule.item.id, message=message, detail=detail)
    return out.with_columns(hit.get_column("__row"))


def control_message(item: Item, value: str, allowed: str, layout: Layout) -> str:
    """`住所: control character U+0009 (TAB) at char 3, byte 2 in cp932`: never the value itself."""
    return f"{item.name}: {controls.message(str(value), allowed, layout.encoding)}"


def repertoire_detail(value: str, allowed: tuple[str, ...]) -> dict[str, object]:
    """The repertoire reject's facts as data (DETAIL_TYPE): what the value is outside of, and where.

    A character's `code` is its code point(s) in hex, space-separated: an IVS is one character.
    """
    chars = [
        {"code": " ".join(f"{ord(c):04X}" for c in ch), "pos": i + 1} for i, ch in bad_chars(value, allowed)
    ]
    return {"outside": " and ".join(allowed), "chars": chars}


def repertoire_message(value: str, allowed: tuple[str, ...]) -> str:
    """`outside cp932: U+9AD9 at char 1, U+845B U+E0100 at char 3`: code points and positions, never the value.

    A variation sequence is one character (its code points space-separated), as the user counts it.
    """
    where = ", ".join(
        " ".join(f"U+{ord(c):04X}" for c in ch) + f" at char {i + 1}" for i, ch in bad_chars(value, allowed)
    )
    return f"outside {' and '.join(allowed)}: {where}"
