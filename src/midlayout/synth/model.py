"""The synthetic population: households of 1–6 people drawn with a seeded RNG from Faker pools."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from midlayout.synth.pools import Pools, full_width

T = TypeVar("T")
REF = date(2024, 1, 1)  # 賦課期日 of 課税年度 2024: ages are taken on this day
LAST = date(2024, 12, 31)  # no event is later than this
KYUSHI_START = date(2019, 11, 5)  # 旧氏併記 became possible
_LAST = LAST.toordinal()
_D1975 = date(1975, 1, 1).toordinal()
_D1980 = date(1980, 1, 1).toordinal()
_D2010 = date(2010, 1, 1).toordinal()

ATENA_BASE = 100_000
SETAI_BASE = 500_000
ROLE_ORDER = {"head": 0, "spouse": 1, "child": 2, "grandchild": 3, "father": 4, "mother": 5, "lodger": 6}
_SIZES = (1, 2, 3, 4, 5, 6)
_SIZE_CUM = (38, 66, 82, 94, 98, 100)
_JOTAI = ("moved_out", "dead", "erased")
_JOTAI_CUM = (0.03, 0.045, 0.05)
_IDO = ("tennyu", "tenkyo", "setai_henko", "shimei_henko", "shokken_kisai")
_IDO_CUM = (45, 70, 85, 95, 100)
_FIXED_SEX = {"father": "M", "mother": "F"}
_REMOVAL = {"moved_out": "tenshutsu", "dead": "shibo", "erased": "shokken_shojo"}


@dataclass(slots=True)
class Person:
    """One resident. Kana is full-width katakana (full-width letters for foreign residents)."""

    atena: str
    setai: str
    juni: int
    role: str  # head, wife, husband, child, father, mother, grandchild, lodger
    sei: str
    mei: str
    sei_kana: str
    mei_kana: str
    kyushi: str
    sex: str  # M or F
    birth: date
    day_unknown: bool
    foreign: bool
    jotai: str  # resident, moved_out, dead, erased
    ido: str
    ido_date: date
    trap: str = ""
    raw: dict[str, bytes | str] | None = None  # vendor field id -> value written as is

    @property
    def name(self) -> str:
        """氏名 as 「姓　名」 with a full-width space."""
        return f"{self.sei}　{self.mei}"

    @property
    def kana(self) -> str:
        """フリガナ in full width, 「セイ　メイ」."""
        return f"{self.sei_kana}　{self.mei_kana}"

    def age(self, on: date = REF) -> int:
        """Age in whole years on `on`."""
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


@dataclass(slots=True)
class Household:
    """One 世帯; members are in 記載順位 order and share its address."""

    setai: str
    zip: str
    addr1: str
    addr2: str
    katagaki: str
    kosei: date
    members: list[Person] = field(default_factory=list)
    drop: bool = False  # trap: the 世帯 record is left out
    extra_zei: bool = False  # trap: a tax record for nobody follows this household's

    @property
    def head(self) -> Person:
        """The first member (the 世帯主 in clean data)."""
        return self.members[0]


def _between(rng: random.Random, lo: int, hi: int) -> date:
    """A date drawn uniformly between two ordinals, inclusive; `lo` wins if the range is empty."""
    return date.fromordinal(lo + int(rng.random() * (max(hi, lo) - lo + 1)))


def _int(rng: random.Random, lo: int, hi: int) -> int:
    """An int in lo..hi inclusive (cheaper than randint)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    """One element (cheaper than choice)."""
    return seq[int(rng.random() * len(seq))]


def _draw(rng: random.Random, keys: Sequence[T], cum: Sequence[float]) -> T:
    """One key by cumulative weight."""
    return keys[bisect_right(cum, rng.random() * cum[-1])]


def draw_roles(rng: random.Random) -> tuple[str, ...]:
    """A household composition in 記載順位 order; `spouse` is resolved to 妻/夫 later."""
    n = _draw(rng, _SIZES, _SIZE_CUM)
    roles = ["head"]
    if n > 1 and rng.random() < 0.85:
        roles.append("spouse")
    while len(roles) < n:
        r = rng.random()
        if r < 0.06:
            roles.append("lodger")
        elif r < 0.14 and "father" not in roles:
            roles.append("father")
        elif r < 0.22 and "mother" not in roles:
            roles.append("mother")
        elif r < 0.32 and "child" in roles:
            roles.append("grandchild")
        else:
            roles.append("child")
    return tuple(sorted(roles, key=ROLE_ORDER.__getitem__))


def head_age(rng: random.Random, roles: tuple[str, ...]) -> int:
    """An age for the 世帯主 that leaves room for the other members."""
    lo, hi = 18, 92
    if "child" in roles:
        lo, hi = 25, 70
    if "grandchild" in roles:
        lo, hi = 50, 88
    if "father" in roles or "mother" in roles:
        hi = max(lo, min(hi, 70))
    return _int(rng, lo, hi)


def member_age(rng: random.Random, role: str, head: int) -> int:
    """Age of a member from the 世帯主's age, within 0–103 (born 1920 or later)."""
    if role == "head":
        return head
    if role == "spouse":
        return max(18, min(103, head + _int(rng, -6, 6)))
    if role == "child":
        return max(0, head - _int(rng, 20, 40))
    if role == "grandchild":
        return max(0, head - _int(rng, 45, 65))
    if role in ("father", "mother"):
        return min(103, head + _int(rng, 20, 35))
    return _int(rng, 18, 80)


def _birth_ranges() -> tuple[tuple[int, int], ...]:
    """For each age 0–103, the (first, last) ordinal of a birth date giving that age on REF."""
    ranges = [
        (date(REF.year - age - 1, 1, 2).toordinal(), date(REF.year - age, 1, 1).toordinal())
        for age in range(104)
    ]
    ranges[0] = (ranges[0][0], _LAST)  # babies may also be born during 2024
    return tuple(ranges)


_BIRTH = _birth_ranges()


def birth_for(rng: random.Random, age: int) -> date:
    """A birth date giving `age` on REF (0–103)."""
    lo, hi = _BIRTH[age]
    return date.fromordinal(lo + int(rng.random() * (hi - lo + 1)))


def ido_for(rng: random.Random, jotai: str, birth: date, day_unknown: bool, kyushi: str) -> tuple[str, date]:
    """The last 異動 (event key, date) consistent with the status and birth."""
    lo = min(max(birth.toordinal() + 1, _D1980), _LAST)
    if jotai != "resident":
        return _REMOVAL[jotai], _between(rng, max(lo, _D2010), _LAST)
    if kyushi and rng.random() < 0.5:
        return "kyushi_kisai", _between(rng, max(lo, KYUSHI_START.toordinal()), _LAST)
    if not day_unknown and birth.year >= 1990 and rng.random() < 0.35:
        return "shussei", birth
    return _draw(rng, _IDO, _IDO_CUM), _between(rng, lo, _LAST)


def banchi(rng: random.Random) -> str:
    """番地 in full-width digits: 「１丁目２番３号」 mostly, else 「１２３番地４」."""
    if rng.random() < 0.8:
        return full_width(f"{_int(rng, 1, 9)}丁目{_int(rng, 1, 30)}番{_int(rng, 1, 30)}号")
    return full_width(f"{_int(rng, 1, 999)}番地{_int(rng, 1, 20)}")


class World:
    """Households of one chunk: deterministic from (seed, chunk), numbers unique across chunks.

    Each chunk has its own RNG and its own 宛名番号/世帯番号 range, so chunks can be made in any order
    or in parallel and the output stays the same.
    """

    def __init__(self, seed: int, pools: Pools, chunk: int = 0, chunk_size: int = 50_000) -> None:
        self.rng = random.Random(f"{seed}:{chunk}")
        self.pools = p = pools
        self._given_pools = {
            (False, "M"): p.male,
            (False, "F"): p.female,
            (True, "M"): p.foreign_male,
            (True, "F"): p.foreign_female,
        }
        self._count = chunk * chunk_size  # index of the next household in the whole run
        self._atena = ATENA_BASE + chunk * chunk_size * 12  # at most 6 members, steps of 1–2
        self._setai = SETAI_BASE + chunk * chunk_size * 2

    def households(self, n: int, roles_at: Mapping[int, tuple[str, ...]]) -> list[Household]:
        """The next `n` households; `roles_at` fixes the members at some run-wide indices."""
        return [self.household(roles_at.get(self._count)) for _ in range(n)]

    def household(self, roles: tuple[str, ...] | None = None) -> Household:
        """The next household, with the given member roles or drawn ones."""
        rng, pools = self.rng, self.pools
        index = self._count
        self._count += 1
        self._setai += 1 + (rng.random() < 0.2)
        roles = roles or draw_roles(rng)
        addr1 = f"{_pick(rng, pools.cities)}表町" if index == 0 else _pick(rng, pools.addr1)
        h = Household(
            f"{self._setai:010d}", _pick(rng, pools.zips), addr1, banchi(rng), self._katagaki(index), REF
        )
        foreign = rng.random() < 0.03
        family = self._surname(foreign)
        age0 = head_age(rng, roles)
        head_sex = "M" if rng.random() < 0.75 else "F"
        for juni, role in enumerate(roles, 1):
            h.members.append(self._person(h.setai, juni, role, head_sex, age0, family, foreign))
        first = h.head.birth.toordinal() + 6575  # 18 years after the 世帯主's birth
        h.kosei = _between(rng, max(first, _D1975), _LAST)
        return h

    def _katagaki(self, index: int) -> str:
        """方書 for about 20% of households; the first one holds ソ and 能 (CP932 trail byte 0x5C)."""
        rng = self.rng
        if index == 0:
            return "ソレイユ能見台　１０２号室"
        if rng.random() >= 0.2:
            return ""
        room = full_width(f"{_int(rng, 1, 9)}0{_int(rng, 1, 9)}")
        return f"{_pick(rng, self.pools.buildings)}　{room}号室"

    def _surname(self, foreign: bool) -> tuple[str, str]:
        """A (kanji, kana) family name; for foreign residents both are full-width letters."""
        if foreign:
            name = _pick(self.rng, self.pools.foreign_surnames)
            return name, name
        return _pick(self.rng, self.pools.surnames)

    def _given(self, sex: str, foreign: bool) -> tuple[str, str]:
        """A (kanji, kana) given name for the sex."""
        pool = self._given_pools[foreign, sex]
        name = pool[int(self.rng.random() * len(pool))]
        return (name, name) if foreign else name  # type: ignore[return-value]

    def _sex(self, role: str, head_sex: str) -> str:
        """Sex by role: the spouse is the other sex, parents fixed, others even."""
        fixed = _FIXED_SEX.get(role)
        if fixed:
            return fixed
        if role == "head":
            return head_sex
        if role == "spouse":
            return "F" if head_sex == "M" else "M"
        return "M" if self.rng.random() < 0.5 else "F"

    def _person(
        self,
        setai: str,
        juni: int,
        role: str,
        head_sex: str,
        age0: int,
        family: tuple[str, str],
        foreign: bool,
    ) -> Person:
        """One member of a household."""
        rng = self.rng
        self._atena += 1 + (rng.random() < 0.3)
        sex = self._sex(role, head_sex)
        if role == "lodger":
            family = self._surname(foreign)
        given = self._given(sex, foreign)
        birth = birth_for(rng, member_age(rng, role, age0))
        day_unknown = rng.random() < 0.01
        if day_unknown:
            birth = birth.replace(day=1)
        kyushi = ""
        if role == "spouse" and not foreign and rng.random() < 0.22:
            kyushi = self._maiden(family[0])
        jotai = "resident" if role == "head" else self._jotai()
        ido, ido_date = ido_for(rng, jotai, birth, day_unknown, kyushi)
        if role == "spouse":
            role = "wife" if sex == "F" else "husband"
        return Person(
            f"{self._atena:010d}",
            setai,
            juni,
            role,
            family[0],
            given[0],
            family[1],
            given[1],
            kyushi,
            sex,
            birth,
            day_unknown,
            foreign,
            jotai,
            ido,
            ido_date,
        )

    def _maiden(self, surname: str) -> str:
        """A 旧氏 different from the current surname."""
        while True:
            kanji = _pick(self.rng, self.pools.surnames)[0]
            if kanji != surname:
                return kanji

    def _jotai(self) -> str:
        """住民状態: mostly resident, a few moved out, dead or erased."""
        r = self.rng.random()
        if r >= _JOTAI_CUM[-1]:
            return "resident"
        for key, edge in zip(_JOTAI, _JOTAI_CUM, strict=True):
            if r < edge:
                return key
        return "resident"
