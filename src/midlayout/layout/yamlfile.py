"""Load YAML while remembering the line of every key, so errors point at the offending line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from midlayout.errors import DefinitionError, Location

PathKey = tuple[str | int, ...]


class Doc:
    """A loaded YAML document: its data plus the line of each node, by path."""

    def __init__(self, path: Path, data: Any, lines: dict[PathKey, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line(self, at: PathKey) -> int | None:
        """The line of the node at `at`, or of its nearest ancestor."""
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get((), 1)

    def error(self, at: PathKey, message: str) -> DefinitionError:
        """A DefinitionError naming this file and the line of `at`."""
        dotted = ".".join(str(p) for p in at)
        text = f"{dotted}: {message}" if dotted else message
        return DefinitionError(text, Location(file=str(self.path), line=self.line(at)))


# A definition is a few thousand nodes. Deeper nesting, or aliases that expand to many times the nodes
# written, is a hostile or broken file (500 nested `[` overflowed the stack; a 2 KB "billion laughs"
# mapping took 60 s and 2.75 GB): both are refused with the line where the limit was reached.
MAX_DEPTH = 64
ALIAS_EXPANSION = 10  # expanded nodes may be at most this many times the nodes written (+ MIN_NODES)
MIN_NODES = 1000


class _Budget:
    """How many nodes `_walk` may still expand (aliases count each time they are used)."""

    def __init__(self, written: int) -> None:
        self.left = MIN_NODES + ALIAS_EXPANSION * written

    def spend(self, node: yaml.Node, at: PathKey, lines: dict[PathKey, int]) -> None:
        self.left -= 1
        if self.left < 0:
            # The top-level entry being expanded (the leaf reached last says little).
            line = lines.get(at[:1], node.start_mark.line + 1)
            raise DefinitionError(
                f"{at[0] if at else 'document'}: aliases expand to too many nodes (an alias bomb?); "
                "write the values out",
                Location(line=line),
            )


def _count(node: yaml.Node, seen: set[int]) -> int:
    """Distinct nodes of the composed graph (an anchored node once, however often it is aliased)."""
    stack, n = [node], 0
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        n += 1
        if isinstance(cur, yaml.MappingNode):
            stack.extend(x for pair in cur.value for x in pair)
        elif isinstance(cur, yaml.SequenceNode):
            stack.extend(cur.value)
    return n


def _walk(node: yaml.Node, at: PathKey, lines: dict[PathKey, int], budget: _Budget) -> Any:
    budget.spend(node, at, lines)
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise DefinitionError(f"duplicate key {key!r}", Location(line=key_node.start_mark.line + 1))
            out[key] = _walk(value_node, (*at, key), lines, budget)
            lines[(*at, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(child, (*at, i), lines, budget) for i, child in enumerate(node.value)]
    return yaml.SafeLoader.construct_object(_CONSTRUCTOR, node, deep=True)  # type: ignore[arg-type]


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than MAX_DEPTH while composing (before the stack overflows)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise DefinitionError(f"nested deeper than {MAX_DEPTH} levels", Location(line=mark.line + 1))
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


class _Constructor(yaml.SafeLoader):
    def __init__(self) -> None:
        super().__init__("")


# Scalars only: booleans like `no`/`yes` stay YAML 1.1 booleans, which is why codes are quoted in our files.
_CONSTRUCTOR = _Constructor()


def load_yaml(path: Path) -> Doc:
    """Parse `path` safely (no tags, no Python objects) into a Doc."""
    if path.is_dir():
        raise DefinitionError("is a directory, not a YAML file", Location(file=str(path)))
    if not path.is_file():
        raise DefinitionError("file not found", Location(file=str(path)))
    data_bytes = path.read_bytes()
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            f"not UTF-8 text (byte {exc.start}): definition files must be saved as UTF-8"
            + (" (this looks like a binary file)" if b"\x00" in data_bytes[:4096] else ""),
            Location(file=str(path), line=data_bytes[: exc.start].count(b"\n") + 1),
        ) from None
    if "\x00" in text:
        raise DefinitionError("a binary file, not YAML text", Location(file=str(path)))
    try:
        node = yaml.compose(text, Loader=_BoundedLoader)
    except DefinitionError as exc:
        exc.location.file = str(path)
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise DefinitionError(f"not valid YAML: {exc.problem}", Location(file=str(path), line=line)) from None
    if node is None:
        raise DefinitionError("empty file", Location(file=str(path), line=1))
    lines: dict[PathKey, int] = {}
    try:
        data = _walk(node, (), lines, _Budget(_count(node, set())))
    except DefinitionError as exc:
        exc.location.file = str(path)
        raise
    return Doc(path, data, lines)
