"""Work a reader kernel can do while it decodes, taken out of the compiled mapping.

The fused fixed-width decoder (readers/native.py) trims ASCII and full-width spaces in the same pass
that decodes a field. A field is trimmed there only when every use of it in the job wants it trimmed
at least that much; the trim op that did it is then dropped from the item (or narrowed to the side the
reader did not trim). It also applies `zenkaku_kana` to a field when every use of it is an item whose
ops start with it (after a trim of spaces, which it commutes with: it neither makes nor takes spaces,
and merges no kana across one); the op is then dropped from those items. An op a reader kernel can
apply says so in the op table (`OpSpec.reader`, layout/ops.py). mapping/proof.py reads the items' own
ops, so an op the reader applied still counts there.
"""

from __future__ import annotations

from collections.abc import Iterable

from midlayout.layout.mapping import FileMapping, ItemRule, Lookup, Op
from midlayout.layout.ops import OP_SPECS
from midlayout.layout.source import SourceFile

NONE, RIGHT, BOTH = 0, 1, 2  # the trim a reader applies to a field (readers.native.TRIM_*)
TRIM, KANA = 3, 4  # the trim bits of a field's mode; `zenkaku_kana` applied too (readers.native.KANA)
SPACES = frozenset(" \u3000")
_SIDES = {"right": RIGHT, "both": BOTH}


def _trim_args(op: Op) -> tuple[frozenset[str], str]:
    args = op.args or {}
    return frozenset(args.get("chars", " \u3000")), args.get("side", "both")


def _wants(rule: ItemRule) -> int:
    """The trim the item's first op applies to its source field (spaces only, exactly)."""
    if not rule.ops or rule.ops[0].name != "trim" or not OP_SPECS["trim"].reader:
        return NONE
    chars, side = _trim_args(rule.ops[0])
    return _SIDES.get(side, NONE) if chars == SPACES else NONE


def _kana_at(rule: ItemRule) -> int | None:
    """Where the item's `zenkaku_kana` is when the reader may apply it: first, or after a trim of spaces."""
    if not OP_SPECS["zenkaku_kana"].reader:
        return None
    at = 1 if _wants(rule) != NONE else 0
    return at if len(rule.ops) > at and rule.ops[at].name == "zenkaku_kana" else None


def reader_trims(rule: FileMapping, source: SourceFile, captured: Iterable[Lookup] = ()) -> dict[str, int]:
    """Per text field of `source`: the trim (NONE, RIGHT, BOTH) every use of it in this job allows.

    Uses: an item taken `from` the field (its first op), a `concat` part (right-trimmed when joined), a
    lookup's `match` column and a captured lookup key (both trimmed both sides). A captured lookup value
    is used untrimmed; a field nothing uses is left as it is. KANA is added when every use is an item
    taken `from` it whose ops apply `zenkaku_kana` first (after a trim of spaces).
    """
    uses: dict[str, list[int]] = {}
    for r in rule.items:
        if r.kind == "from" and r.fields:
            uses.setdefault(r.fields[0], []).append(_wants(r) | (KANA if _kana_at(r) is not None else 0))
        elif r.kind == "concat":
            for f in r.fields:
                uses.setdefault(f, []).append(RIGHT)
        if r.lookup is not None:
            uses.setdefault(r.lookup.match, []).append(BOTH)
    for lk in captured:
        uses.setdefault(lk.key, []).append(BOTH)
        uses.setdefault(lk.value, []).append(NONE)
    text = {f.id for f in source.fields if f.type == "text"}
    out = {
        f: min(m & TRIM for m in modes) | (KANA if all(m & KANA for m in modes) else 0)
        for f, modes in uses.items()
    }
    return {f: mode for f, mode in out.items() if f in text and mode != NONE}


def remaining_ops(rule: ItemRule, trims: dict[str, int]) -> tuple[Op, ...]:
    """The item's ops once the reader applied `trims[field]` to its source field."""
    mode = trims.get(rule.fields[0], NONE) if rule.kind == "from" and rule.fields else NONE
    ops = rule.ops
    kana = _kana_at(rule)
    if mode & KANA and kana is not None:
        ops = (*ops[:kana], *ops[kana + 1 :])
    done = mode & TRIM
    if done == NONE or _wants(rule) == NONE:
        return ops
    first, rest = ops[0], ops[1:]
    if _wants(rule) <= done:
        return rest
    return (Op("trim", {"chars": " \u3000", "side": "left"}, first.line), *rest)
