"""Typed model of the standard layouts: families, 業務, versions, files, items and code tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ITEM_TYPES = ("string", "number", "date", "code", "flag")


def staging_key(layout_id: str, file_id: str) -> str:
    """`<layout id>:<file id>`, how a run names a target file while staging and checking across files (a run
    holds one version of a layout, so the version is left out; manifests use `Layout.target`)."""
    return f"{layout_id}:{file_id}"


@dataclass(frozen=True)
class CodeTable:
    """A code table (コード一覧表): code → 名称, with the 桁数 every code has."""

    id: str
    name: str
    digits: int
    codes: dict[str, str]
    path: Path


@dataclass(frozen=True)
class Reference:
    """This item must equal the key item of a row in another file of the same 業務 (or another layout)."""

    file: str
    item: str


@dataclass(frozen=True)
class Item:
    """One item (項目) of a layout file."""

    no: int
    id: str
    name: str
    type: str
    length: int
    unit: str  # "bytes" (in the layout's encoding), "digits" or "chars" (characters; an IVS counts as one)
    required: bool
    scale: int = 0
    code_table: str | None = None
    references: Reference | None = None
    note: str = ""
    source_id: str | None = None  # the id in the official sheet when it is not an identifier (データ項目ID)


@dataclass(frozen=True)
class ExactlyOne:
    """A household-style rule: for each row of this file, exactly one row of `file` whose `via` matches
    and whose `item` equals `value` (e.g. one 世帯主 per 世帯)."""

    id: str
    file: str
    via: str
    item: str
    value: str
    message: str


@dataclass(frozen=True)
class Condition:
    """When a cross-item rule applies: `item` equals one of `values` (op "in"), or is present/absent.

    `values` are compared with the item's value as text (a flag as "true"/"false", a date as YYYY-MM-DD).
    """

    item: str
    op: str  # "in" | "present" | "absent"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrossItemRule:
    """A rule across the items of one row (条件付き必須): when `when` holds, every `require` item is
    present and every `forbid` item is empty. `id` is the rule id that rejects carry."""

    id: str
    when: Condition
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class FileDef:
    """One migration file (移行ファイル) of a 業務."""

    id: str
    name: str
    key: tuple[str, ...]
    items: tuple[Item, ...]
    checks: tuple[ExactlyOne, ...] = ()
    rules: tuple[CrossItemRule, ...] = ()

    def item(self, item_id: str) -> Item:
        """The item called `item_id`; KeyError if absent."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]


@dataclass(frozen=True)
class Layout:
    """A versioned standard layout of one 業務 in one family."""

    family: str
    family_name: str
    gyomu: str
    gyomu_name: str
    version: str
    encoding: str
    provenance: str
    files: tuple[FileDef, ...]
    code_tables: dict[str, CodeTable]
    path: Path
    sha256: str
    references: dict[str, Layout] = field(default_factory=dict)
    repertoire: str | None = None  # unicode | cp932 | jisx0208 | jisx0213; None: what `encoding` holds

    @property
    def id(self) -> str:
        return f"{self.family}/{self.gyomu}"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def target(self, file_id: str) -> str:
        """`<id>@<version>:<file id>`, how manifests and outputs name a target file."""
        return f"{self.ref}:{file_id}"

    def file(self, file_id: str) -> FileDef:
        """The file called `file_id`; KeyError if absent."""
        for f in self.files:
            if f.id == file_id:
                return f
        raise KeyError(file_id)
