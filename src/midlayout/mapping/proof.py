"""Rules a run need not check: what the source can produce already proves them.

For a target item built from source text, the compiler knows what that text can be: characters the source
codec decodes (each with the bytes it takes), at most the field's width of them, then passed through the
item's ops as the op table declares (layout/ops.py: KEEPS, MAPS or INTRODUCES). Two kinds of row rule
follow from that alone, and are left out of validation for the run (both validators):

- 桁数 in bytes or characters (`length_bytes`, `length_chars`): the longest value the source can give,
  measured as the rule measures it (bytes in the TARGET layout's encoding, text/encodings.byte_length;
  characters as rules.char_length), is within the item's length;
- `repertoire`: every character the value can hold round-trips through the target's encoding and declared
  repertoire (checked here on the characters themselves, for the codecs where a value round-trips when
  each of its characters does).

A 桁数 rule the longest value breaks may still be proven *unless* the value holds one of a few characters
(`Proven.unless`): the characters that count more than the source bytes they come from (CP932's one-byte
0x80 → U+0080 and 0xA0, 0xFD-0xFF → U+F8F0-U+F8F3, each counted as two bytes), left out of the bound one
ratio (counted per source byte) at a time, highest first, until the rest fits. The validators then check
the rule only on the values that hold one of them (rules.validate_rows), so rejects stay the same.

Everything else is checked: `control_char`, `required`, code domains, digits, keys and references are
never proven. Text an op, a constant, a lookup or a 外字 table introduces proves nothing; neither does a
source field that is not text, nor a source codec whose decoder is not enumerated here (UTF-8, EBCDIC, JEF, …).
Proven rules cannot fail, so leaving them out changes no output (a test holds both paths to the same
outputs); the manifest lists them (`validation.proven`). `MIDLAYOUT_PROVE=0` checks everything (a switch
for tests and benchmarks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import Final, TypeVar

import polars as pl

from midlayout.layout.mapping import FileMapping, ItemRule, Mapping
from midlayout.layout.model import Item, Layout
from midlayout.layout.ops import KEEPS, MAPS, OP_SPECS
from midlayout.layout.source import SourceFile
from midlayout.text.encodings import CODECS, byte_length
from midlayout.validate.rules import LENGTH_BYTES, LENGTH_CHARS, PROVABLE, REPERTOIRE, char_length

_T = TypeVar("_T")
ENV: Final = "MIDLAYOUT_PROVE"
# Round-trip codecs in which a value round-trips when each of its characters does (validate/repertoire.py's
# _CONCAT_SAFE; JIS X 0213's euc_jis_2004 composes across characters, so it is never proven).
_CHARWISE: Final = frozenset({"cp932", "shift_jis", "euc_jp"})
# Source codecs whose every byte sequence is enumerated: longest sequence in bytes. Stateless, so a field
# decodes to the concatenation of its characters' decodes.
# (UTF-8 is not: its 1.1M characters cost seconds to walk through the ops, and a CSV source has no width,
# while a target with a repertoire cannot hold them all.)
_ENUMERATED: Final = {"cp932": 2, "shift_jis": 2, "euc_jp": 3}


def enabled() -> bool:
    """Proofs are on unless MIDLAYOUT_PROVE=0 (tests and benchmarks compare both)."""
    return os.environ.get(ENV, "1") != "0"


# At most this many characters in an `unless` set (a longer one is no cheap test: the rule stays checked).
UNLESS_MOST: Final = 16


@dataclass(frozen=True)
class Proven:
    """A rule of one target item that this run does not check, and why it cannot fail (no values).

    `unless`: characters (sorted) without which the rule cannot fail; a value holding one of them is still
    checked. Empty: proven for every value."""

    item: str
    rule: str
    why: str
    unless: str = ""


@cache
def decoder_atoms(codec: str) -> pl.DataFrame | None:
    """Every character `codec` decodes a byte sequence to, with the fewest bytes it takes (`text`, `src`).

    A value that decodes to U+FFFD is nulled and rejected by the reader, so U+FFFD is left out. None for a
    codec that is not enumerated here.
    """
    if codec not in _ENUMERATED:
        return None
    best: dict[str, int] = {}
    for seq in _sequences(_ENUMERATED[codec]):
        try:
            text = seq.decode(codec)
        except UnicodeDecodeError:
            continue
        if len(text) == 1 and text != "\ufffd":
            best[text] = min(best.get(text, len(seq)), len(seq))
    return pl.DataFrame(
        {"text": list(best), "src": list(best.values())}, schema={"text": pl.String, "src": pl.Int64}
    )


def _sequences(longest: int) -> Iterable[bytes]:
    """Every byte sequence of 1 and 2 bytes, and (longest 3: EUC-JP) the 3-byte ones after SS3 (0x8F)."""
    for a in range(256):
        yield bytes((a,))
        for b in range(256):
            yield bytes((a, b))
    if longest >= 3:
        for b in range(0xA1, 0xFF):
            for c in range(0xA1, 0xFF):
                yield bytes((0x8F, b, c))


@dataclass(frozen=True)
class Reach:
    """What an item's text can be: a concatenation of pieces of each source field's characters (`atoms`,
    at most `width` source bytes of them; None: no bound, as in CSV), plus `literal` (text the item adds
    once, e.g. concat separators), with characters from `extra` possibly merged in (never making it longer)."""

    pieces: tuple[tuple[pl.DataFrame, int | None], ...]
    literal: str = ""
    extra: str = ""

    def chars(self) -> str:
        seen = set(self.literal) | set(self.extra)
        for atoms, _ in self.pieces:
            seen |= _memo(("chars", id(atoms)), atoms, partial(_chars_of, atoms))
        return "".join(seen)


def _chars_of(atoms: pl.DataFrame) -> set[str]:
    return set("".join(atoms.get_column("text")))


def _pairs_of(atoms: pl.DataFrame, kind: str, encoding: str) -> list[tuple[int, int]]:
    """The distinct (source bytes, `kind` measure) of the atoms."""
    return sorted(atoms.select(pl.col("src"), _metric(kind, encoding).alias("m")).unique().rows())


# Results per atoms frame (by identity: the frame is kept with its result, so the id is not reused), so
# that the items of a run that read the same codec through the same ops share the work.
_MEMO: dict[tuple[object, ...], tuple[object, object]] = {}


def _memo(key: tuple[object, ...], keep: object, make: Callable[[], _T]) -> _T:
    if key not in _MEMO:
        _MEMO[key] = (keep, make())
    return _MEMO[key][1]  # type: ignore[return-value]


def _metric(kind: str, encoding: str) -> pl.Expr:
    col = pl.col("text")
    return byte_length(col, encoding) if kind == LENGTH_BYTES else char_length(col)


def _measure(texts: list[str], kind: str, encoding: str) -> list[int]:
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    return [int(v) for v in frame.select(_metric(kind, encoding)).to_series().to_list()]


def longest(reach: Reach, kind: str, encoding: str) -> int | None:
    """The largest `kind` (length_bytes in `encoding`, or length_chars) a value of `reach` can have."""
    total = sum(_measure([reach.literal], kind, encoding)) if reach.literal else 0
    for atoms, width in reach.pieces:
        if width is None:
            return None
        pairs = _memo(("pairs", id(atoms), kind, encoding), atoms, partial(_pairs_of, atoms, kind, encoding))
        total += _knapsack(pairs, width)
    return total


def unless_set(reach: Reach, kind: str, encoding: str, length: int) -> tuple[str, int] | None:
    """The characters without which no value of `reach` measures over `length`, and the most such a value
    measures (None: no set of at most UNLESS_MOST characters does it).

    Atoms are left out by their measure per source byte, the highest first, until the longest value of
    the atoms left fits; the set is every character the left-out atoms' text can hold, plus every character
    an op merged (a merge may hide a left-out atom inside its replacement). A value without any of them
    is made of the atoms kept only, so it is within the bound.
    """
    if any(width is None for _, width in reach.pieces):
        return None
    measured = [
        (_memo(("measured", id(atoms), kind, encoding), atoms, partial(_measured, atoms, kind, encoding)), w)
        for atoms, w in reach.pieces
    ]
    literal = sum(_measure([reach.literal], kind, encoding)) if reach.literal else 0
    ratios = sorted({r for frame, _ in measured for r in frame.get_column("ratio").to_list() if r > 0})
    for ratio in reversed(ratios):
        kept = [
            (sorted(frame.filter(pl.col("ratio") < ratio).select("src", "m").unique().rows()), w)
            for frame, w in measured
        ]
        most = literal + sum(_knapsack(pairs, w or 0) for pairs, w in kept)
        if most > length:
            continue
        left = set(reach.extra)
        for frame, _ in measured:
            left |= set("".join(frame.filter(pl.col("ratio") >= ratio).get_column("text")))
        return ("".join(sorted(left)), most) if len(left) <= UNLESS_MOST else None
    return None


def _measured(atoms: pl.DataFrame, kind: str, encoding: str) -> pl.DataFrame:
    """The atoms with their measure `m` and its ratio to their source bytes."""
    m = _metric(kind, encoding).alias("m")
    return atoms.select("text", "src", m).with_columns((pl.col("m") / pl.col("src")).alias("ratio"))


def _knapsack(pairs: list[tuple[int, int]], width: int) -> int:
    """Most metric from pieces costing `src` bytes each (any number of each), within `width` bytes."""
    best = [0] * (width + 1)
    for w in range(1, width + 1):
        best[w] = max([best[w - 1]] + [best[w - s] + m for s, m in pairs if 0 < s <= w])
    return best[width]


def _apply(reach: Reach | None, op_name: str, args: object, encoding: str) -> Reach | None:
    """`reach` after one op, as the op table declares its effect."""
    if reach is None:
        return None
    spec = OP_SPECS[op_name]
    if spec.effect == KEEPS:
        return reach
    if spec.effect != MAPS:  # INTRODUCES, or anything this module does not know
        return None
    from midlayout.mapping.ops import OpContext, Value

    ctx = OpContext("", None, 0, {})
    impl = spec.load()

    def on(texts: pl.Series) -> pl.Series:
        value, checks = impl(Value(pl.col("text"), pl.String), args, ctx)
        assert not checks, f"a {MAPS!r} op adds no check"
        return pl.DataFrame({"text": texts}).select(value.expr.alias("text")).to_series()

    merged = spec.load_merges()
    for pattern, replacement in merged:  # a merge is never longer than the pieces it replaces
        images = on(pl.Series(list(pattern), dtype=pl.String)).to_list()
        for kind in (LENGTH_BYTES, LENGTH_CHARS):
            if _measure([replacement], kind, encoding)[0] > sum(_measure(images, kind, encoding)):
                return None

    def mapped(atoms: pl.DataFrame) -> pl.DataFrame:
        return atoms.with_columns(on(atoms.get_column("text")))

    pieces = tuple(
        (_memo(("op", id(atoms), op_name, repr(args)), atoms, partial(mapped, atoms)), w)
        for atoms, w in reach.pieces
    )
    literal = "".join(on(pl.Series([reach.literal], dtype=pl.String)).to_list()) if reach.literal else ""
    extra = reach.extra + "".join(r for _, r in merged)
    extra = "".join(on(pl.Series(list(extra), dtype=pl.String)).to_list()) if extra else ""
    return Reach(pieces, literal, extra)


def _field(source: SourceFile, field_id: str, introduced: bool) -> tuple[pl.DataFrame, int | None] | None:
    """A source text field's characters and width (None when the reader's text is not the decoder's)."""
    field = source.field(field_id)
    if introduced or field.type != "text":
        return None
    atoms = decoder_atoms(CODECS[source.encoding])
    if atoms is None:
        return None
    return atoms, field.length if source.format == "fixed" else None


def reach_of(rule: ItemRule, source: SourceFile, encoding: str, gaiji_replaces: bool) -> Reach | None:
    """What the item's text can be before `_cast`, or None when something introduces text."""
    if rule.kind == "from" and rule.fields:
        piece = _field(source, rule.fields[0], gaiji_replaces)
        reach = None if piece is None else Reach((piece,))
    elif rule.kind == "concat":  # right-trimmed parts joined by `sep`: a known text of its own
        parts = [_field(source, f, gaiji_replaces) for f in rule.fields]
        known = [p for p in parts if p is not None]
        reach = Reach(tuple(known), rule.sep * (len(parts) - 1)) if len(known) == len(parts) else None
    else:  # const and lookup introduce text
        reach = None
    for op in rule.ops:
        reach = _apply(reach, op.name, op.args, encoding)
    return reach


def _repertoire_ok(chars: str, layout: Layout) -> str | None:
    """Why every character in `chars` is inside the layout's encoding and repertoire; None if not proven."""
    from midlayout.validate.repertoire import codec_of, fits, of_layout

    names = of_layout(layout.encoding, layout.repertoire)
    for name in names:
        codec = codec_of(name)
        if codec is None:
            continue
        if codec not in _CHARWISE or name.startswith("jisx0213") or not fits(chars, name):
            return None
    return " and ".join(names)


def prove_file(
    mapping: Mapping, rule: FileMapping, source: SourceFile | None = None, gaiji_replaces: bool = False
) -> tuple[Proven, ...]:
    """The rules of `rule`'s target items that its source cannot break.

    `source`: the source file as the run reads it (default: the mapping's); `gaiji_replaces`: a 外字 table
    replaces characters in this source (its replacements are introduced text: nothing is proven).
    """
    layout = mapping.target
    target = layout.file(rule.target)
    source = source or mapping.source.file(rule.source)
    rules = {r.item: r for r in rule.items}
    out: list[Proven] = []
    for item in target.items:
        r = rules.get(item.id)
        if r is None or item.type not in ("string", "code"):
            continue
        reach = reach_of(r, source, layout.encoding, gaiji_replaces)
        if reach is None:
            continue
        out += _prove_item(item, r, reach, source, layout)
    return tuple(out)


def _prove_item(item: Item, r: ItemRule, reach: Reach, source: SourceFile, layout: Layout) -> list[Proven]:
    fields = ", ".join(r.fields)
    codec = CODECS[source.encoding]
    widths = "+".join(str(w) for _, w in reach.pieces)
    origin = f"{fields} ({widths} bytes of {codec})" if source.format == "fixed" else f"{fields} ({codec})"
    out = []
    kind = {"bytes": LENGTH_BYTES, "chars": LENGTH_CHARS}.get(item.unit)
    if kind is not None:
        most = longest(reach, kind, layout.encoding)
        unit = f"bytes in {layout.encoding}" if kind == LENGTH_BYTES else "characters"
        if most is not None and most <= item.length:
            out.append(
                Proven(item.id, kind, f"{origin}: at most {most} {unit}, the item holds {item.length}")
            )
        elif most is not None:
            found = unless_set(reach, kind, layout.encoding, item.length)
            if found is not None:
                unless, bound = found
                why = (
                    f"{origin}: at most {bound} {unit} unless it holds {code_points(unless)} (those values are"
                    f" checked), the item holds {item.length}"
                )
                out.append(Proven(item.id, kind, why, unless))
    inside = _repertoire_ok(reach.chars(), layout)
    if inside is not None:
        out.append(
            Proven(item.id, REPERTOIRE, f"{origin}: every character it can decode to is inside {inside}")
        )
    return out


def code_points(chars: str) -> str:
    """`U+0080 U+F8F0`: characters named by code point (the manifest's `unless`)."""
    return " ".join(f"U+{ord(c):04X}" for c in chars)


def proven_rules(proofs: Iterable[Proven]) -> dict[tuple[str, str], str]:
    """(item, rule) → the characters it is proven unless a value holds ("": proven outright), for the
    validators."""
    return {(p.item, p.rule): p.unless for p in proofs}


def manifest_entries(entries: Iterable[tuple[str, str, Proven]]) -> list[dict[str, str]]:
    """`validation.proven` in the manifest: one entry per (mapping, target, item, rule), in run order; a
    rule proven unless a value holds some characters names them (`unless`, code points)."""
    out: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for mapping_id, target, p in entries:
        key = (mapping_id, target, p.item, p.rule)
        entry = {"mapping": mapping_id, "target": target, "item": p.item, "rule": p.rule, "why": p.why}
        out.setdefault(key, entry | ({"unless": code_points(p.unless)} if p.unless else {}))
    return list(out.values())


__all__ = [
    "ENV",
    "PROVABLE",
    "UNLESS_MOST",
    "Proven",
    "code_points",
    "decoder_atoms",
    "enabled",
    "longest",
    "manifest_entries",
    "prove_file",
    "proven_rules",
    "reach_of",
    "unless_set",
]
