"""Pools of Faker ja_JP names and addresses, drawn once per seed so records never call Faker."""

from __future__ import annotations

from dataclasses import dataclass

POOL_SIZE = 2000
FOREIGN_POOL_SIZE = 300
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "　", "-": "－"})


def full_width(text: str) -> str:
    """ASCII letters, digits, spaces and hyphens as their full-width forms (１２３－４５６７)."""
    return text.translate(_FULL_WIDTH)


@dataclass(frozen=True)
class Pools:
    """Everything a record draws from: (kanji, kana) names, foreign names, addresses, postcodes."""

    surnames: tuple[tuple[str, str], ...]
    male: tuple[tuple[str, str], ...]
    female: tuple[tuple[str, str], ...]
    foreign_surnames: tuple[str, ...]
    foreign_male: tuple[str, ...]
    foreign_female: tuple[str, ...]
    cities: tuple[str, ...]
    addr1: tuple[str, ...]
    zips: tuple[str, ...]
    buildings: tuple[str, ...]


def _pairs(method, n: int) -> tuple[tuple[str, str], ...]:  # type: ignore[no-untyped-def]
    """`n` (kanji, katakana) pairs from a Faker *_pair method."""
    return tuple((kanji, kana) for kanji, kana, _ in (method() for _ in range(n)))


def _foreign(method, n: int, limit: int = 9) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """`n` upper-case ASCII names of at most `limit` letters, as full-width text."""
    names = (method().upper() for _ in range(n * 3))
    fit = [full_width(s) for s in names if s.isascii() and s.isalpha() and len(s) <= limit]
    return tuple(fit[:n])


def build_pools(seed: int, size: int = POOL_SIZE) -> Pools:
    """Draw the pools with Faker seeded by `seed` (ja_JP, plus en_US for foreign residents)."""
    from faker import Faker  # dev dependency: only the generator needs it

    ja = Faker("ja_JP")
    ja.seed_instance(seed)
    en = Faker("en_US")
    en.seed_instance(seed)
    cities = tuple(f"{ja.prefecture()}{ja.city()}" for _ in range(size))
    return Pools(
        surnames=_pairs(ja.last_name_pair, size),
        male=_pairs(ja.first_name_male_pair, size),
        female=_pairs(ja.first_name_female_pair, size),
        foreign_surnames=_foreign(en.last_name, FOREIGN_POOL_SIZE),
        foreign_male=_foreign(en.first_name_male, FOREIGN_POOL_SIZE),
        foreign_female=_foreign(en.first_name_female, FOREIGN_POOL_SIZE),
        cities=cities,
        addr1=tuple(f"{city}{ja.town()}" for city in cities),
        zips=tuple(ja.zipcode() for _ in range(size)),
        buildings=tuple(f"{ja.town()[:6]}{ja.building_name()}" for _ in range(size)),
    )
