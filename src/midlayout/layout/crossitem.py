"""Cross-item rules of a layout file (条件付き必須, a date and its 不詳 flag): parsed from YAML, checked here.

```yaml
rules:
  - id: birth_date_if_known          # the rule id rejects carry
    when: {item: seinengappi_fusho, equals: "0"}   # or in: [..], present: true, absent: true
    require: [seinengappi]           # must be present when `when` holds
    forbid: []                       # must be empty when `when` holds
    message: 生年月日: required when 生年月日不詳フラグ is 0   # optional
```
"""

from __future__ import annotations

from typing import Any

from midlayout.layout import checks as c
from midlayout.layout.model import Condition, CrossItemRule, Item
from midlayout.layout.yamlfile import Doc, PathKey

_WHEN_OPS = ("equals", "in", "present", "absent")


def _as_text(doc: Doc, at: PathKey, value: Any, item: Item) -> str:
    """A condition value as the item's value reads when cast to text (flags: true/false)."""
    if item.type == "flag":
        if value in (True, "1", "true"):
            return "true"
        if value in (False, "0", "false"):
            return "false"
        raise doc.error(at, f'a flag is compared with "0" or "1", got {value!r}')
    if item.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return c.text(doc, at, value)


def _condition(doc: Doc, at: PathKey, node: Any, items: dict[str, Item]) -> Condition:
    node = c.mapping(doc, at, node, {"item"}, set(_WHEN_OPS))
    item_id = c.ident(doc, (*at, "item"), node["item"])
    if item_id not in items:
        raise doc.error((*at, "item"), f"{item_id!r} is not an item of this file")
    ops = [k for k in _WHEN_OPS if k in node]
    if len(ops) != 1:
        raise doc.error(at, f"state exactly one of {', '.join(_WHEN_OPS)}")
    op = ops[0]
    if op in ("present", "absent"):
        if node[op] is not True:
            raise doc.error((*at, op), f"write `{op}: true`")
        return Condition(item_id, op)
    raw = [node[op]] if op == "equals" else c.seq(doc, (*at, op), node[op])
    values = tuple(_as_text(doc, (*at, op), v, items[item_id]) for v in raw)
    return Condition(item_id, "in", values)


def _items(doc: Doc, at: PathKey, node: Any, items: dict[str, Item]) -> tuple[str, ...]:
    out = []
    for i, raw in enumerate(c.seq(doc, at, node, nonempty=False)):
        item_id = c.ident(doc, (*at, i), raw)
        if item_id not in items:
            raise doc.error((*at, i), f"{item_id!r} is not an item of this file")
        out.append(item_id)
    return tuple(out)


def parse_rule(doc: Doc, at: PathKey, node: Any, items: dict[str, Item]) -> CrossItemRule:
    """One entry of a file's `rules:`; every item it names must be an item of the file."""
    node = c.mapping(doc, at, node, {"id", "when"}, {"require", "forbid", "message", "note"})
    when = _condition(doc, (*at, "when"), node["when"], items)
    require = _items(doc, (*at, "require"), node.get("require", []), items)
    forbid = _items(doc, (*at, "forbid"), node.get("forbid", []), items)
    if not require and not forbid:
        raise doc.error(at, "a rule needs `require:` or `forbid:` (or both)")
    message = c.text(doc, (*at, "message"), node["message"]) if "message" in node else ""
    return CrossItemRule(c.ident(doc, (*at, "id"), node["id"]), when, require, forbid, message)


def default_message(rule: CrossItemRule, items: dict[str, Item]) -> str:
    """`生年月日: required when 生年月日不詳フラグ is 0` (names and declared values, never a row's value)."""
    cond = items[rule.when.item].name
    if rule.when.op == "in":
        shown = [{"true": "1", "false": "0"}.get(v, v) for v in rule.when.values]
        cond += f" is {' or '.join(shown)}"
    else:
        cond += " is present" if rule.when.op == "present" else " is empty"
    parts = []
    if rule.require:
        parts.append(f"{', '.join(items[i].name for i in rule.require)}: required when {cond}")
    if rule.forbid:
        parts.append(f"{', '.join(items[i].name for i in rule.forbid)}: must be empty when {cond}")
    return "; ".join(parts)
