"""The row rules of a layout file (必須, 桁数, code domains, repertoire), and their fused evaluation.

Each rule is defined once, as a polars expression over the item's column. `validate_rows` evaluates all
of them in one `select` per batch (the hot path); `schema.schema_for` wraps the same expressions as
pandera checks, and a test holds the two to the same rejects. Nulls pass every rule but `required`,
as in pandera.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
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


def within_bytes(col: pl.Expr, encoding: str, length: int) -> pl.Expr:
    """`byte_length(col, encoding) <= length` (the `bytes:` 桁数), with the regex count left to the values
    that vectorised counts cannot settle.

    In CP932, Shift_JIS and EUC-JP (as byte_length counts them) a character counts 1 or 2 bytes, and never
    more than its UTF-8 bytes; so a value of at most `length` / 2 characters, or of at most `length` UTF-8
    bytes, passes without counting. Only the others (rare: the long ones) are counted; the answer is the
    same for every value.
    """
    if encoding.startswith("utf-8"):
        return byte_length(col, encoding) <= length
    bound = bytes_bound(col, encoding, length)
    rest = pl.when(bound).then(pl.lit(None, dtype=pl.String)).otherwise(col)  # null: not counted
    return bound | (byte_length(rest, encoding) <= length)


def bytes_bound(col: pl.Expr, encoding: str, length: int) -> pl.Expr:
    """True where a value is surely within `length` bytes of `encoding` (within_bytes), by counts alone."""
    if encoding.startswith("utf-8"):
        return col.str.len_bytes() <= length
    return (col.str.len_bytes() <= length) | (col.str.len_chars() <= length // 2)


def within_chars(col: pl.Expr, length: int) -> pl.Expr:
    """`char_length(col) <= length` (the `chars:` 桁数): a value of at most `length` code points passes
    without counting variation selectors; only the longer ones are counted."""
    bound = chars_bound(col, length)
    rest = pl.when(bound).then(pl.lit(None, dtype=pl.String)).otherwise(col)
    return bound | (char_length(rest) <= length)


def chars_bound(col: pl.Expr, length: int) -> pl.Expr:
    """True where a value is surely within `length` characters (within_chars), by its code points."""
    return col.str.len_chars() <= length


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
    # 桁数 only: true where the value surely passes, by cheap counts (the fused validator evaluates `ok` on
    # the other rows alone)
    bound: Callable[[pl.Expr], pl.Expr] | None = None


def _digits(item: Item) -> Rule:
    if item.type == "number":
        limit = 10 ** (item.length - item.scale)
        return Rule(item, LENGTH_DIGITS, f"more than {item.length} digits", lambda c: c.abs() < limit)
    pattern = rf"^[0-9]{{1,{item.length}}}$"
    return Rule(
        item, LENGTH_DIGITS, f"not 1 to {item.length} half-width digits", lambda c: c.str.contains(pattern)
    )


_banned = cache(controls.pattern)  # per batch and item otherwise


def _controls(item: Item, allowed: str) -> Rule:
    banned = _banned(allowed)
    return Rule(item, CONTROL_CHAR, CONTROL_ERROR, lambda c: ~c.str.contains(banned), allowed)


# The rules a run may leave out when the source proves them (mapping/proof.py); never control_char,
# required, code domains, digits, keys or references.
PROVABLE = frozenset({LENGTH_BYTES, LENGTH_CHARS, REPERTOIRE})
# (item id, rule id) pairs proven for a run; as a mapping, each pair → the characters it is proven unless a
# value holds (mapping/proof.py `Proven.unless`; "" proven outright).
Proven = Collection[tuple[str, str]] | Mapping[tuple[str, str], str]


def conditions(proven: Proven) -> dict[tuple[str, str], str]:
    """(item, rule) → the characters it is proven unless a value holds ("": proven for every value)."""
    if isinstance(proven, Mapping):
        return dict(proven)
    return dict.fromkeys(proven, "")


def item_rules(item: Item, layout: Layout, allowed: str = "", proven: Proven = ()) -> list[Rule]:
    """The value rules of `item`, in the order they are reported (`required` is the column's nullability).

    `allowed`: the control characters the mapping lets this item hold (all others are `control_char`).
    `proven`: (item, rule) pairs the run's source proves (mapping/proof.py), left out; only PROVABLE ones,
    and only those proven for every value (one proven `unless` a value holds some characters stays: the
    fused validator checks it on those values alone, pandera on all).
    """
    rules = _item_rules(item, layout, allowed)
    if not proven:
        return rules
    outright = {k for k, unless in conditions(proven).items() if not unless}
    return [r for r in rules if r.id not in PROVABLE or (item.id, r.id) not in outright]


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
                    lambda c: within_bytes(c, enc, item.length),
                    bound=lambda c: bytes_bound(c, enc, item.length),
                )
            )
        elif item.unit == "chars":
            rules.append(
                Rule(
                    item,
                    LENGTH_CHARS,
                    f"more than {item.length} characters",
                    lambda c: within_chars(c, item.length),
                    bound=lambda c: chars_bound(c, item.length),
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
    (values are walked only in a column that fails). A rule that can fail only where another check fails
    (`guards`) is evaluated on those rows alone. Rows keep their provenance columns. `proven`: rules the
    source proves (mapping/proof.py), not evaluated (those proven unless a value holds some characters: on
    the values that hold one).
    """
    _check_dtypes(file, rows)
    rules = file_rules(layout, file, allow, proven)
    allowed = of_layout(layout.encoding, layout.repertoire)
    guarded, scans, bounds = guards(rules, layout, conditions(proven))
    flags: list[pl.Expr] = []
    series: list[pl.Series] = []
    for k, rule in enumerate(rules):
        if k in guarded:
            continue
        name = f"__f{k}"
        if rule.row_ok is not None:
            flags.append((~rule.row_ok).fill_null(False).alias(name))
        elif rule.ok is not None:
            flags.append((~rule.ok(pl.col(rule.item.id))).fill_null(False).alias(name))
        else:  # the repertoire: one codec round trip per column
            flags.append(pl.col(name))
            series.append(pl.Series(name, outside(rows.get_column(rule.item.id), allowed)))
    scanned = [
        pl.col(item).str.contains(pattern).fill_null(False).alias(name)
        for name, (item, pattern) in scans.items()
    ]
    bounded = [expr.fill_null(False).alias(name) for name, expr in bounds.items()]
    failed = rows.with_columns(series).select(*flags, *scanned, *bounded)
    if guarded:  # each on the rows its guard flags (none, mostly: then it is false throughout)
        names = sorted(set(guarded.values()))
        flagged = dict(zip(names, failed.select(pl.col(names).any()).row(0), strict=True))
        failed = failed.with_columns(
            (
                _flag_where(rules[k], rows, failed.get_column(g), allowed)
                if flagged[g]
                else pl.repeat(False, pl.len())
            ).alias(f"__f{k}")
            for k, g in guarded.items()
        )
    failed = failed.select(f"__f{k}" for k in range(len(rules)))
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


def _flag_where(rule: Rule, rows: pl.DataFrame, where: pl.Series, allowed: tuple[str, ...]) -> pl.Series:
    """Where `rule` fails, evaluated only on the rows `where` flags (false elsewhere)."""
    out = np.zeros(rows.height, dtype=bool)
    at = where.arg_true()
    if len(at):
        part = rows.select(pl.col(rule.item.id)).gather(at)
        if rule.ok is not None:
            hit = part.select((~rule.ok(pl.col(rule.item.id))).fill_null(False)).to_series().to_numpy()
        else:
            hit = outside(part.get_column(rule.item.id), allowed)
        out[at.to_numpy()] = hit
    return pl.Series(out)


def guards(
    rules: list[Rule], layout: Layout, proven: Mapping[tuple[str, str], str]
) -> tuple[dict[int, str], dict[str, tuple[str, str]], dict[str, pl.Expr]]:
    """Which rules need evaluating only where another check fails, since they cannot fail elsewhere.

    Returns (rule index → the flag column of its guard, scan column → (item, regex class), bound column →
    its expression):
    - on a code item, a rule every code of the table passes (digits, control_char, repertoire, 桁数) can
      fail only on a value outside the table: guarded by `code_domain`;
    - on a digits item, `control_char` and `repertoire` (rules that hold for a value when they hold for
      each of its characters) pass on half-width digits: guarded by `length_digits`;
    - a rule proven unless a value holds some characters (mapping/proof.py), and the item's
      `control_char`, are guarded by one scan for those characters and the banned controls;
    - any other 桁数 rule is guarded by its `bound` (counts that settle most values without the regex).
    A guarded rule's failures are a subset of its guard's, so rows, rejects and their order stay the same.
    """
    by_item: dict[str, dict[str, int]] = {}
    for k, rule in enumerate(rules):
        if rule.row_ok is None:
            by_item.setdefault(rule.item.id, {})[rule.id] = k
    guarded: dict[int, str] = {}
    scans: dict[str, tuple[str, str]] = {}
    bounds: dict[str, pl.Expr] = {}
    for item_id, ks in by_item.items():
        item = rules[next(iter(ks.values()))].item
        domain, digits = ks.get(CODE_DOMAIN), ks.get(LENGTH_DIGITS)
        for k in ks.values():
            if k in (domain, ks.get(REQUIRED)):
                continue
            if domain is not None and _passes_codes(rules[k], layout):
                guarded[k] = f"__f{domain}"
        if digits is not None and digits not in guarded and item.type in ("string", "code"):
            for rid in (CONTROL_CHAR, REPERTOIRE):  # a guard is never itself guarded
                if rid in ks and ks[rid] not in guarded and _passes_digits(rules[ks[rid]], layout):
                    guarded[ks[rid]] = f"__f{digits}"
        unless = {
            rid: proven[(item_id, rid)]
            for rid, k in ks.items()
            if proven.get((item_id, rid)) and k not in guarded
        }
        if unless:
            name = f"__s{ks[next(iter(unless))]}"
            chars = "".join(sorted(set("".join(unless.values()))))
            control = ks.get(CONTROL_CHAR)
            if control is not None and control not in guarded:
                guarded[control] = name  # the scan looks for the banned controls too
                pattern = _banned(rules[control].allowed)[:-1] + _escaped(chars) + "]"
            else:
                pattern = f"[{_escaped(chars)}]"
            for rid in unless:
                guarded[ks[rid]] = name
            scans[name] = (item_id, pattern)
        for k in ks.values():
            bound = rules[k].bound
            if bound is not None and k not in guarded:
                guarded[k] = f"__b{k}"
                bounds[guarded[k]] = ~bound(pl.col(item_id))
    return guarded, scans, bounds


def _escaped(chars: str) -> str:
    """Characters for a regex class (Rust syntax), by code point."""
    return "".join(f"\\x{{{ord(c):04X}}}" for c in chars)


# (id of the layout, item, rule, allowed) → (the layout, kept so the id is not reused; whether every code
# of the item's table passes the rule)
_CODES_PASS: dict[tuple[int, str, str, str], tuple[Layout, bool]] = {}


def _passes_codes(rule: Rule, layout: Layout) -> bool:
    key = (id(layout), rule.item.id, rule.id, rule.allowed)
    if key not in _CODES_PASS:
        table = layout.code_tables[rule.item.code_table]  # type: ignore[index]
        _CODES_PASS[key] = (layout, _passes(rule, layout, tuple(table.codes)))
    return _CODES_PASS[key][1]


def _passes_digits(rule: Rule, layout: Layout) -> bool:
    """True when half-width digits pass `rule` (control_char or repertoire: a rule that holds for a value
    when it holds for each of its characters)."""
    key = (id(layout), "", rule.id, rule.allowed)
    if key not in _CODES_PASS:
        _CODES_PASS[key] = (layout, _passes(rule, layout, ("0123456789",)))
    return _CODES_PASS[key][1]


def _passes(rule: Rule, layout: Layout, values: tuple[str, ...]) -> bool:
    """True when every one of `values` passes `rule` (the rule's own expression or round trip)."""
    if not values:
        return True
    frame = pl.DataFrame({rule.item.id: list(values)}, schema={rule.item.id: pl.String})
    allowed = of_layout(layout.encoding, layout.repertoire)
    where = pl.Series([True] * len(values))
    return not _flag_where(rule, frame, where, allowed).any()


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
