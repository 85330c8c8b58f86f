"""Deliberate bad or tricky records injected into the first households when `traps=True`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from midlayout.synth.model import Household

# key -> (what is in the record, what the migration must do with it)
CATALOG: dict[str, tuple[str, str]] = {
    "variant_taka": (
        "氏名 髙橋: 髙 written as IBM extension 0xFBFC",
        "passes unchanged (never folded to 高)",
    ),
    "variant_saki": (
        "氏名 山﨑: 﨑 written as IBM extension 0xFAB1",
        "passes unchanged (never folded to 崎)",
    ),
    "variant_watanabe": ("氏名 渡邉: variant 邉 (0xE7B3)", "passes unchanged (never folded to 辺)"),
    "two_heads": (
        "second member with ZOKU 01: two 世帯主 in one 世帯",
        "fails the one-世帯主-per-世帯 check",
    ),
    "sex_x": ('SEX "X": not in the vendor code table', "rejected: unmapped code"),
    "birth_h310501": ('BIRTH "4310501": 平成31年5月1日 does not exist', "rejected: invalid date"),
    "setai_missing": ("SETAI_NO has no SETAI record", "rejected or flagged: 世帯 reference not found"),
    "gaiji": ("氏名 holds a 外字 0xF040 (U+E000, user-defined area)", "flagged/rejected: unmapped 外字"),
    "cut_char": (
        "NAME_KANJI ends with lead byte 0x88: a character cut at the field end",
        "rejected: character cut at the field boundary",
    ),
    "birth_day_unknown": ("BIRTH day 00 (不詳)", "accepted with 生年月日不詳フラグ = 1"),
    "zei_orphan": ("ATENA_NO 9000000001 is in no JUMIN record", "rejected: 宛名番号 not found"),
    "b_sex_unknown": ('性別 "不明": not in the vendor code table', "rejected: unmapped code"),
    "b_household_missing": ("世帯コード has no row in household.csv", "rejected or flagged: 世帯 not found"),
    "b_birth_h310501": ('生年月日 "H31.05.01" does not exist', "rejected: invalid date"),
}

A_ROLES: dict[int, tuple[str, ...]] = {
    1: ("head",),
    3: ("head", "spouse"),
    5: ("head",),
    8: ("head",),
    11: ("head", "spouse", "child"),
    13: ("head",),
    16: ("head",),
    19: ("head",),
    22: ("head",),
    25: ("head",),
}
A_ZEI_AFTER = 27  # the orphan ZEI record follows this household's tax records
A_MIN_HOUSEHOLDS = 30
B_ROLES: dict[int, tuple[str, ...]] = {3: ("head",), 6: ("head",), 9: ("head", "spouse", "child")}
B_MIN_HOUSEHOLDS = 12

ORPHAN_ATENA = "9000000001"
_IBM = {"髙": b"\xfb\xfc", "﨑": b"\xfa\xb1"}
_BAD_BIRTH = date(2019, 5, 1)  # really 令和元年5月1日; the trap writes it as 平成31年


@dataclass(frozen=True)
class TrapNote:
    """Where one trap landed: file name and 1-based record number (CSV: data rows after the header)."""

    file: str
    record: int
    key: str

    @property
    def what(self) -> str:
        """What is wrong or tricky."""
        return CATALOG[self.key][0]

    @property
    def expected(self) -> str:
        """The expected outcome downstream."""
        return CATALOG[self.key][1]


def ibm_cp932(text: str) -> bytes:
    """CP932 bytes preferring the IBM extension codes for 髙 and 﨑 (Python's codec writes NEC-selected)."""
    return b"".join(_IBM.get(ch) or ch.encode("cp932") for ch in text)


def _rename(h: Household, key: str, sei: str, kana: str, ibm: bool = False) -> None:
    """Give the (single) member a chosen surname, optionally written with IBM extension codes."""
    p = h.head
    if p.foreign:
        p.mei, p.mei_kana = ("一郎", "イチロウ") if p.sex == "M" else ("花子", "ハナコ")
    p.sei, p.sei_kana, p.foreign, p.trap = sei, kana, False, key
    if ibm:
        p.raw = {"NAME_KANJI": ibm_cp932(p.name)}


def _cut_name(h: Household) -> None:
    """A 20-character name whose 40-byte field ends in the lead byte of 安 (0x88C0)."""
    p = h.head
    p.sei, p.mei, p.sei_kana, p.mei_kana = (
        "勅使河原",
        "寿限無寿限無五劫之擦切海砂利水安",
        "テシガワラ",
        "ジュゲム",
    )
    p.foreign, p.trap = False, "cut_char"
    raw = f"{p.sei} {p.mei}".encode("cp932")[:40]
    assert raw[-1] == 0x88
    p.raw = {"NAME_KANJI": raw}


def _bad_birth_child(h: Household, field: str, value: bytes | str, key: str) -> None:
    """The child was born 2019-05-01 (出生); the extract writes a date that does not exist."""
    p = h.members[-1]
    p.birth, p.day_unknown, p.jotai, p.ido, p.ido_date = _BAD_BIRTH, False, "resident", "shussei", _BAD_BIRTH
    p.trap, p.raw = key, {field: value}


def _day_unknown(h: Household) -> None:
    """Keep year and month, mark the day 不詳."""
    p = h.head
    p.birth, p.day_unknown, p.trap = p.birth.replace(day=1), True, "birth_day_unknown"
    if p.ido == "shussei":
        p.ido = "tennyu"


def apply_a(chunk: list[Household]) -> None:
    """Edit the first chunk of a vendor A run (households built with A_ROLES) to carry the traps."""
    _rename(chunk[1], "variant_taka", "髙橋", "タカハシ", ibm=True)
    chunk[3].members[1].role, chunk[3].members[1].trap = "head", "two_heads"
    chunk[5].head.raw, chunk[5].head.trap = {"SEX": b"X"}, "sex_x"
    _rename(chunk[8], "variant_saki", "山﨑", "ヤマサキ", ibm=True)
    _bad_birth_child(chunk[11], "BIRTH", b"4310501", "birth_h310501")
    chunk[13].drop, chunk[13].head.trap = True, "setai_missing"
    _rename(chunk[16], "variant_watanabe", "渡邉", "ワタナベ")
    _rename(chunk[19], "gaiji", "\ue000田", "ヨシダ")
    _cut_name(chunk[22])
    _day_unknown(chunk[25])
    chunk[A_ZEI_AFTER].extra_zei = True
    _one_fault_each(chunk)


def apply_b(chunk: list[Household]) -> None:
    """Edit the first chunk of a vendor B run (households built with B_ROLES) to carry the traps."""
    chunk[3].head.raw, chunk[3].head.trap = {"seibetsu": "不明"}, "b_sex_unknown"
    chunk[6].drop, chunk[6].head.trap = True, "b_household_missing"
    _bad_birth_child(chunk[9], "birth", "H31.05.01", "b_birth_h310501")
    _one_fault_each(chunk)


def _one_fault_each(chunk: list[Household]) -> None:
    """A trap record shows only its own fault: a chance 不詳 birth day elsewhere is made a plain date."""
    for p in (p for h in chunk for p in h.members if p.trap and p.trap != "birth_day_unknown"):
        p.day_unknown = False
