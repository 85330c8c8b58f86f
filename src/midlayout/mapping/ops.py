"""The mapping vocabulary: each op turns a polars expression into another, plus the checks it adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from midlayout import kernels
from midlayout.layout.mapping import CodeMap, Op
from midlayout.layout.ops import OP_SPECS
from midlayout.rejects import code_detail
from midlayout.text import normalize
from midlayout.text.wareki import to_wareki
from midlayout.text.wareki_fast import parse_wareki_fast, parse_wareki_zeros


@dataclass(frozen=True)
class Check:
    """A row-level failure condition: rows where `mask` is true are rejected with `rule` and `message`."""

    rule: str
    item: str
    field: str | None
    field_start: int
    mask: pl.Expr
    message: str | pl.Expr
    detail: pl.Expr | None = (
        None  # facts a report reads as data (rejects.DETAIL_TYPE), never parsed from `message`
    )


@dataclass
class Value:
    """An item's expression as it is built, with its current polars dtype."""

    expr: pl.Expr
    dtype: type[pl.DataType]

    def text(self) -> pl.Expr:
        return self.expr if self.dtype == pl.String else self.expr.cast(pl.String)


OpFn = Callable[[Value, Any, "OpContext"], tuple[Value, list[Check]]]


@dataclass
class Shared:
    """Sub-expressions computed once per batch and shared by items, checks and messages.

    Two items reading the same 和暦 field (`wareki` and `wareki_unknown` on BIRTH), and the check and
    message of each, would otherwise each parse it again: polars copies a reused expression.
    """

    exprs: list[tuple[pl.Expr, str]] = field(default_factory=list)
    keys: list[pl.Expr] = field(default_factory=list)

    def column(self, expr: pl.Expr, tag: str, key: pl.Expr | None = None) -> pl.Expr:
        """A column holding `expr` (same expression, or same `key` expression, and tag: same column).

        `key` stands for an `expr` polars cannot compare (a Python kernel: text/wareki_fast.py).
        """
        key = expr if key is None else key
        for (_, name), known in zip(self.exprs, self.keys, strict=True):
            if name.endswith(f"_{tag}") and known.meta.eq(key):
                return pl.col(name)
        name = f"__shared{len(self.exprs)}_{tag}"
        self.exprs.append((expr, name))
        self.keys.append(key)
        return pl.col(name)

    def columns(self) -> list[pl.Expr]:
        """The expressions to add to a batch before the items are evaluated."""
        return [expr.alias(name) for expr, name in self.exprs]


@dataclass
class OpContext:
    """What an op needs besides its input: the item, its source field, and the code maps."""

    item: str
    field: str | None
    field_start: int
    code_maps: dict[str, CodeMap]
    shared: Shared | None = None
    counters: list[tuple[str, str, pl.Expr]] | None = None  # (item, what, mask) counted per run

    def check(self, rule: str, mask: pl.Expr, message: str | pl.Expr, detail: pl.Expr | None = None) -> Check:
        return Check(rule, self.item, self.field, self.field_start, mask, message, detail)

    def count(self, what: str, mask: pl.Expr) -> None:
        """Count the rows where `mask` holds (values a mapping accepted with a loss, e.g. `partial: null`)."""
        if self.counters is not None:
            self.counters.append((self.item, what, mask))

    def wareki(self, text: pl.Expr, args: dict[str, Any]) -> pl.Expr:
        """The parsed 和暦 struct of `text` (through the running conversion's kernels): `parse_wareki`'s
        {date, unknown, error, partial} and `zeros` (text/wareki_fast.py `parse_wareki_zeros`)."""
        return kernels.active().wareki(self, text, args)


def shared_wareki(ctx: OpContext, text: pl.Expr, args: dict[str, Any]) -> pl.Expr:
    """The parsed 和暦 struct of `text`, computed once per batch when the compiler shares it; era code +
    YYMMDD values are parsed on their bytes (text/wareki_fast.py)."""
    fast = parse_wareki_fast(text, args["format"], args["eras"])
    if ctx.shared is None:
        return fast
    return ctx.shared.column(fast, "wareki", key=parse_wareki_zeros(text, args["format"], args["eras"]))


def _text(fn: Callable[[pl.Expr], pl.Expr]) -> OpFn:
    return lambda v, _a, _c: (Value(fn(v.text()), pl.String), [])


def op_trim(v: Value, args: dict[str, str] | None, _c: OpContext) -> tuple[Value, list[Check]]:
    args = args or {"chars": " \u3000", "side": "both"}
    return Value(normalize.trim(v.text(), args["chars"], args["side"]), pl.String), []


# The reject message of a vendor code no code map holds ({map}: the code map's id, {code}: the code). The
# terminal's summary reads the code from the reject's detail column, never from this text.
UNMAPPED_MESSAGE = "code not in code map {map}: {code}"


def op_code(v: Value, name: str, ctx: OpContext) -> tuple[Value, list[Check]]:
    table = ctx.code_maps[name]
    src = v.text()
    out = src.replace_strict(list(table.map), list(table.map.values()), default=None, return_dtype=pl.String)
    if ctx.shared is not None:  # one lookup per batch gives the value and the unmapped check
        out = ctx.shared.column(out, "code")
    blank = src.is_null() | (src == "")
    template = UNMAPPED_MESSAGE.format(map=table.id, code="{}")
    message = pl.format(template, src) if "{}" in template else pl.lit(template)
    return Value(out, pl.String), [
        # The vendor code is a value: rejects.* hold it (as they hold the raw record); the terminal shows
        # only the distinct codes with counts, and reports mask it unless --show-values.
        ctx.check("code_unmapped", ~blank & out.is_null(), message, code_detail(table.id, src))
    ]


def _blank(parsed: pl.Expr, policy: str) -> pl.Expr:
    """Empty, or (under a declared `blank:` policy) all zeros: a date that says nothing. Read from the parse:
    `parse_wareki` leaves both `error` and `partial` null only for a null or empty (once stripped) value."""
    field = parsed.struct.field
    empty = field("error").is_null() & field("partial").is_null()
    return empty if policy == "null" else empty | field("zeros")


def op_wareki(v: Value, args: dict[str, Any], ctx: OpContext) -> tuple[Value, list[Check]]:
    """和暦 → date. `blank`: null | reject | unknown; `partial` (month/day 00): reject | unknown | null."""
    text = v.text()
    parsed = ctx.wareki(text, args)
    error = parsed.struct.field("error")
    blank_policy, partial = args.get("blank", "null"), args.get("partial", "reject")
    blank = _blank(parsed, blank_policy)
    message = pl.lit("invalid 和暦 date: ") + error
    # An empty value has no error: only an all-zero one (a `blank:` policy) takes an error back.
    invalid = error.is_not_null() if blank_policy == "null" else error.is_not_null() & ~blank
    checks = [ctx.check("invalid_wareki", invalid, message)]
    if blank_policy == "reject":
        checks.append(
            ctx.check("date_blank", blank, "date is empty or all zeros (the mapping says blank: reject)")
        )
    unknown = parsed.struct.field("unknown").fill_null(False)
    if partial == "reject":
        checks.append(
            ctx.check(
                "date_partial",
                unknown,
                "date is partly unknown (month or day 00) and the item cannot say so "
                "(the mapping may accept the loss with partial: null)",
            )
        )
    elif partial == "null":
        ctx.count("partial_null", unknown)
    return Value(parsed.struct.field("date"), pl.Date), checks


def op_wareki_unknown(v: Value, args: dict[str, Any], ctx: OpContext) -> tuple[Value, list[Check]]:
    """The 不詳 flag of a 和暦 field: month or day 00, and (with `blank: unknown`) an empty or all-zero date."""
    text = v.text()
    parsed = ctx.wareki(text, args)
    unknown = parsed.struct.field("unknown").fill_null(False)
    if args.get("blank", "null") == "unknown":
        unknown = unknown | _blank(parsed, "unknown")
    return Value(unknown, pl.Boolean), []


def op_wareki_partial(v: Value, args: dict[str, Any], ctx: OpContext) -> tuple[Value, list[Check]]:
    """西暦 YYYYMMDD with 00 for 不詳 parts, for targets that keep partial dates as a string."""
    parsed = ctx.wareki(v.text(), args)
    error = parsed.struct.field("error")
    message = pl.lit("invalid 和暦 date: ") + error
    return Value(parsed.struct.field("partial"), pl.String), [
        ctx.check("invalid_wareki", error.is_not_null(), message)
    ]


def op_to_wareki(v: Value, args: dict[str, Any], ctx: OpContext) -> tuple[Value, list[Check]]:
    """西暦 (a date, or YYYYMMDD text) → 和暦 text; a date it cannot express is a reject, never a null."""
    date = (
        v.expr
        if v.dtype == pl.Date
        else v.text().str.strip_chars(" \u3000").str.to_date("%Y%m%d", strict=False)
    )
    out = to_wareki(date, args["style"], args["eras"])
    given = (
        v.expr.is_not_null()
        if v.dtype == pl.Date
        else v.text().str.strip_chars(" \u3000").fill_null("") != ""
    )
    check = ctx.check(
        "invalid_date",
        given & out.is_null(),
        "not a date that 和暦 can express (before 明治 or not YYYYMMDD)",
    )
    return Value(out, pl.String), [check]


def op_null_if(v: Value, values: list[str], _c: OpContext) -> tuple[Value, list[Check]]:
    src = v.text()
    return Value(pl.when(src.is_in(values)).then(None).otherwise(src), pl.String), []


def op_default(v: Value, value: str, _c: OpContext) -> tuple[Value, list[Check]]:
    src = v.text()
    return Value(pl.when(src.is_null() | (src == "")).then(pl.lit(value)).otherwise(src), pl.String), []


def op_replace(v: Value, pairs: dict[str, str], _c: OpContext) -> tuple[Value, list[Check]]:
    if len(pairs) == 1 and next(iter(pairs)):  # one pattern: the same as replace_many, half the CPU
        ((old, new),) = pairs.items()
        return Value(v.text().str.replace_all(old, new, literal=True), pl.String), []
    return Value(v.text().str.replace_many(list(pairs), list(pairs.values())), pl.String), []


def op_split(v: Value, args: dict[str, Any], _c: OpContext) -> tuple[Value, list[Check]]:
    """Split at the first `sep`: index 0 is the part before it, index 1 everything after it."""
    parts = v.text().str.splitn(args["sep"], 2)
    return Value(parts.struct.field(f"field_{args['index']}"), pl.String), []


op_zenkaku_kana = _text(normalize.hankaku_kana_to_zenkaku)
op_hankaku_ascii = _text(normalize.zenkaku_ascii_to_hankaku)
op_hankaku_digits = _text(normalize.zenkaku_digits_to_hankaku)
op_normalize_spaces = _text(normalize.normalize_spaces)


def apply_op(value: Value, op: Op, ctx: OpContext) -> tuple[Value, list[Check]]:
    """Apply one op of the vocabulary (layout/ops.py's table names each op's implementation here)."""
    return OP_SPECS[op.name].load()(value, op.args, ctx)  # type: ignore[no-any-return]
