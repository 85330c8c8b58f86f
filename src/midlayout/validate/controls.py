"""Which control characters a mapping lets each target item hold (`allow_control`), for both validators."""

from __future__ import annotations

from midlayout.layout.mapping import FileMapping, Mapping
from midlayout.text.controls import allowed_chars


def allowances(rule: FileMapping) -> dict[str, str]:
    """Item id → the control characters its mapping allows (items without `allow_control` are absent)."""
    return {it.item: allowed_chars(it.allow_control) for it in rule.items if it.allow_control}


def manifest_options(mappings: list[Mapping]) -> dict[str, list[str]]:
    """`{"mapping-id:file.item": ["lf"]}`: the allowances, as the manifest's options record them."""
    return {
        f"{m.id}:{f.target}.{it.item}": list(it.allow_control)
        for m in mappings
        for f in m.files
        for it in f.items
        if it.allow_control
    }
