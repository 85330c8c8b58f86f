"""Work a reader kernel can do while it decodes, taken out of the compiled mapping.

The fused fixed-width decoder (readers/native.py) trims ASCII and full-width spaces in the same pass
that decodes a field. A field is trimmed there only when every use of it in the job wants it trimmed
at least that much; the trim op that did it is then dropped from the item (or narrowed to the side the
reader did not trim). An op a reader kernel can apply says so in the op table (`OpSpec.reader`,
layout/ops.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from midlayout.layout.mapping import FileMapping, ItemRule, Lookup, Op
from midlayout.layout.ops import OP_SPECS
from midlayout.layout.source import SourceFile

NONE, RIGHT, BOTH = 0, 1, 2  # the trim a reader applies to a field (readers.native.TRIM_*)
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


def reader_trims(rule: FileMapping, source: SourceFile, captured: Iterable[Lookup] = ()) -> dict[str, int]:
    """Per text field of `source`: the trim (NONE, RIGHT, BOTH) every use of it in this job allows.

    Uses: an item taken `from` the field (its first op), a `concat` part (right-trimmed when joined), a
    lookup's `match` column and a captured lookup key (both trimmed both sides). A captured lookup value
    is used untrimmed; a field nothing uses is left as it is.
    """
    uses: dict[str, list[int]] = {}
    for r in rule.items:
        if r.kind == "from" and r.fields:
            uses.setdefault(r.fields[0], []).append(_wants(r))
        elif r.kind == "concat":
            for f in r.fields:
                uses.setdefault(f, []).append(RIGHT)
        if r.lookup is not None:
            uses.setdefault(r.lookup.match, []).append(BOTH)
    for lk in captured:
        uses.setdefault(lk.key, []).append(BOTH)
        uses.setdefault(lk.value, []).append(NONE)
    text = {f.id for f in source.fields if f.type == "text"}
    return {f: min(modes) for f, modes in uses.items() if f in text and min(modes) > NONE}


def remaining_ops(rule: ItemRule, trims: dict[str, int]) -> tuple[Op, ...]:
    """The item's ops once the reader applied `trims[field]` to its source field."""
    done = trims.get(rule.fields[0], NONE) if rule.kind == "from" and rule.fields else NONE
    if done == NONE or _wants(rule) == NONE:
        return rule.ops
    first, rest = rule.ops[0], rule.ops[1:]
    if _wants(rule) <= done:
        return rest
    return (Op("trim", {"chars": " \u3000", "side": "left"}, first.line), *rest)
