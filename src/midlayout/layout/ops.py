"""The mapping op vocabulary: ONE table of op name → argument parser → implementation.

Each op is an `OpSpec`: whether it may be written as a bare name, how its argument is parsed and checked
when a mapping loads (errors point at file:line), and where its implementation lives ("module:function",
imported when a mapping is compiled, so that loading definitions imports no engine). Adding an op is one
entry here and one function in `mapping/ops.py`; an op that takes an argument must name its parser, and
every op declares its `effect` on an item's text (byte length and repertoire), which mapping/proof.py reads
to leave out rules the source already proves: an op without one is an error when the table is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.yamlfile import Doc, PathKey
from midlayout.text.wareki import ERA_KEYS, ERA_SCHEMES, FORMATS

ArgParser = Callable[[Doc, PathKey, Any, "OpScope"], Any]
IMPLEMENTATIONS = "midlayout.mapping.ops"

# An op's effect on the text of an item (mapping/proof.py), declared per op in the table below:
KEEPS = "keeps"  # its result is a part of its input, or null: never longer, no character it was not given
MAPS = "maps"  # characters through a fixed table: its result on a value is its result on each decoded
#   character in turn, except that neighbours may merge (`merges`: pattern → replacement, never longer than
#   the pieces it replaces); length and repertoire follow from the table
INTRODUCES = (
    "introduces"  # text of its own (codes, dates, defaults, replacements): nothing is proven after it
)
EFFECTS = (KEEPS, MAPS, INTRODUCES)


@dataclass(frozen=True)
class OpScope:
    """What an op's argument may name: the mapping's code maps and declared era schemes."""

    code_maps: frozenset[str]
    eras: dict[str, dict[str, str]]


@dataclass(frozen=True)
class OpSpec:
    """One op: `bare` if it may be written without an argument, `parse` if it takes one (None: it takes
    none), and `implementation`, the function in mapping/ops.py that builds its expression."""

    name: str
    parse: ArgParser | None = None
    bare: bool = False
    implementation: str = ""  # default: mapping/ops.py's op_<name>
    # A reader-side kernel can apply it while it decodes (the fused fixed-width decoder trims spaces and
    # turns half-width kana full-width); the compiler then leaves it out (mapping/pushdown.py).
    reader: bool = False
    # Its effect on the item's text (KEEPS, MAPS or INTRODUCES, above): required, there is no default.
    effect: str = ""
    # MAPS only: "module:name" of the (pattern, replacement) pairs where neighbouring characters merge.
    merges: str = ""

    def __post_init__(self) -> None:
        if self.parse is None and not self.bare:
            raise TypeError(f"op {self.name!r} takes an argument but names no parser for it")
        if self.effect not in EFFECTS:
            raise TypeError(
                f"op {self.name!r} declares no effect on text ({', '.join(EFFECTS)}): "
                "mapping/proof.py cannot tell which rules it keeps proven"
            )
        if self.merges and self.effect != MAPS:
            raise TypeError(f"op {self.name!r}: only a {MAPS!r} op merges characters")
        if not self.implementation:
            object.__setattr__(self, "implementation", f"{IMPLEMENTATIONS}:op_{self.name}")

    def load(self) -> Callable[..., Any]:
        """The implementation (imported once)."""
        return _load(self.implementation)

    def load_merges(self) -> list[tuple[str, str]]:
        """The (pattern, replacement) pairs a MAPS op merges neighbours with (none unless declared)."""
        return list(_attr(self.merges)) if self.merges else []


@cache
def _load(implementation: str) -> Callable[..., Any]:
    return _attr(implementation)  # type: ignore[no-any-return]


def _attr(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _code(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> str:
    if c.text(doc, at, arg) not in scope.code_maps:
        raise doc.error(at, f"unknown code map {arg!r} (declare it under code_maps)")
    return str(arg)


# Date policies (docs/text-fidelity.md, "Dates that say what they know"): what an empty or all-zero date
# is (`blank`, on wareki and wareki_unknown) and what a month/day 00 is (`partial`, on wareki).
BLANK_POLICIES = ("null", "reject", "unknown")
PARTIAL_POLICIES = ("reject", "unknown", "null")


def _yaml_null(value: Any) -> Any:
    """`partial: null` is YAML's null: the policy named "null"."""
    return "null" if value is None else value


def _date_parser(policies: frozenset[str], blank_choices: tuple[str, ...] = BLANK_POLICIES) -> ArgParser:
    """The argument parser of a 和暦 op: `{format, eras}` plus the date policies the op takes."""

    def parse(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> dict[str, Any]:
        node = c.mapping(doc, at, arg, {"format"}, {"eras", *policies})
        fmt = c.choice(doc, (*at, "format"), node["format"], FORMATS)
        required = fmt in ("era_yymmdd", "era2_yymmdd")
        out: dict[str, Any] = {
            "format": fmt,
            "eras": era_scheme(doc, (*at, "eras"), node.get("eras"), scope.eras, required),
        }
        if "blank" in policies:  # an empty or all-zero date: null (default), a reject, or 不詳
            out["blank"] = c.choice(doc, (*at, "blank"), _yaml_null(node.get("blank", "null")), blank_choices)
        if "partial" in policies:  # month or day 00: a reject (default), 不詳 (a flag records it), or null
            partial = _yaml_null(node.get("partial", "reject"))
            out["partial"] = c.choice(doc, (*at, "partial"), partial, PARTIAL_POLICIES)
        return out

    return parse


_wareki = _date_parser(frozenset())


def _to_wareki(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> dict[str, Any]:
    node = c.mapping(doc, at, arg, {"style"}, {"eras"})
    style = c.choice(doc, (*at, "style"), node["style"], FORMATS)
    scheme = era_scheme(doc, (*at, "eras"), node.get("eras"), scope.eras, required=False)
    if scheme is not None and (style == "kanji" or sorted(scheme.values()) != sorted(ERA_KEYS)):
        raise doc.error((*at, "eras"), "to_wareki takes `eras:` only for code styles, with one code per era")
    return {"style": style, "eras": scheme}


def _null_if(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> list[str]:
    return [c.text(doc, (*at, i), v) for i, v in enumerate(c.seq(doc, at, arg))]


def _default(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> str:
    return c.text(doc, at, arg)


def _replace(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> dict[str, str]:
    node = c.mapping(doc, at, arg, set(), set(arg or {}) if isinstance(arg, dict) else set())
    return {k: c.text(doc, (*at, k), v) for k, v in node.items()}


def _split(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> dict[str, Any]:
    node = c.mapping(doc, at, arg, {"sep", "index"}, set())
    if node["index"] not in (0, 1):
        raise doc.error((*at, "index"), "split at the first sep: index 0 (before it) or 1 (after it)")
    return {"sep": c.text(doc, (*at, "sep"), node["sep"]), "index": node["index"]}


def _trim(doc: Doc, at: PathKey, arg: Any, scope: OpScope) -> dict[str, str]:
    node = c.mapping(doc, at, arg, set(), {"side", "chars"})
    return {
        "side": c.choice(doc, (*at, "side"), node.get("side", "both"), ("both", "left", "right")),
        "chars": c.text(doc, (*at, "chars"), node.get("chars", " \u3000")),
    }


_NORMALIZE = "midlayout.text.normalize"

OP_SPECS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("trim", _trim, bare=True, reader=True, effect=KEEPS),
        OpSpec("zenkaku_kana", bare=True, reader=True, effect=MAPS, merges=f"{_NORMALIZE}:KANA_MERGES"),
        OpSpec("hankaku_ascii", bare=True, effect=MAPS),
        OpSpec("hankaku_digits", bare=True, effect=MAPS),
        OpSpec("normalize_spaces", bare=True, effect=MAPS, merges=f"{_NORMALIZE}:SPACE_MERGES"),
        OpSpec("code", _code, effect=INTRODUCES),
        OpSpec("wareki", _date_parser(frozenset({"blank", "partial"})), effect=INTRODUCES),
        OpSpec("wareki_unknown", _date_parser(frozenset({"blank"}), ("null", "unknown")), effect=INTRODUCES),
        OpSpec("wareki_partial", _wareki, effect=INTRODUCES),
        OpSpec("to_wareki", _to_wareki, effect=INTRODUCES),
        OpSpec("null_if", _null_if, effect=KEEPS),
        OpSpec("default", _default, effect=INTRODUCES),
        OpSpec("replace", _replace, effect=INTRODUCES),
        OpSpec("split", _split, effect=INTRODUCES),
    )
}


def parse_op(doc: Doc, at: PathKey, node: Any, scope: OpScope) -> tuple[str, Any]:
    """An op as written in a mapping (a bare name, or a one-key mapping name → argument): (name, args)."""
    known = ", ".join(sorted(OP_SPECS))
    if isinstance(node, str):
        spec = OP_SPECS.get(node)
        if spec is None:
            raise doc.error(at, f"unknown op {node!r} (ops: {known})")
        if not spec.bare:
            raise doc.error(at, f"op {node!r} needs an argument")
        return node, None
    if not isinstance(node, dict) or len(node) != 1:
        raise doc.error(at, "an op is a name or a mapping with one key")
    name, arg = next(iter(node.items()))
    spec = OP_SPECS.get(name)
    if spec is None:
        raise doc.error(at, f"unknown op {name!r} (ops: {known})")
    if spec.parse is None:
        raise doc.error(at, f"op {name!r} takes no argument (write it as a bare name)")
    return name, spec.parse(doc, (*at, name), arg, scope)


def era_scheme(
    doc: Doc, at: PathKey, name: Any, eras: dict[str, dict[str, str]], required: bool
) -> dict[str, str] | None:
    """A declared era scheme, else a built-in one (digits, digits2, letters)."""
    if name is None:
        if required:
            raise doc.error(
                at,
                f"era code formats need `eras:` naming an era scheme ({', '.join(ERA_SCHEMES)} or declared)",
            )
        return None
    key = c.text(doc, at, name)
    scheme = eras.get(key, ERA_SCHEMES.get(key))
    if scheme is None:
        raise doc.error(
            at,
            f"unknown era scheme {key!r} (declared: {', '.join(eras) or 'none'}; built-in: {', '.join(ERA_SCHEMES)})",
        )
    return scheme
