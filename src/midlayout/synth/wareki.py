"""和暦 renderings of dates for synthetic extracts: era code + YYMMDD and dotted letter form."""

from __future__ import annotations

from datetime import date

from midlayout.text.wareki import ERA_SCHEMES, ERAS

ERA_SCHEME_CODE = {key: code for code, key in ERA_SCHEMES["digits"].items()}  # era key → 1..5

# (first day as ordinal, first Gregorian year, numeric code, letter), newest first, from text/wareki.py's ERAS.
_ERAS = tuple(
    (era.start.toordinal(), era.start.year, code, era.letter)
    for code, era in reversed([(ERA_SCHEME_CODE[era.key], era) for era in ERAS])
)


def era_of(d: date) -> tuple[str, str, int]:
    """(numeric code 1–5, letter M/T/S/H/R, year within the era) for a date from 明治 on."""
    ordinal = d.toordinal()
    for start, first_year, code, letter in _ERAS:
        if ordinal >= start:
            return code, letter, d.year - first_year + 1
    raise ValueError(f"{d.isoformat()} is before 明治")


def era_yymmdd(d: date, unknown_day: bool = False) -> str:
    """Vendor A form, for example 3520401 (昭和52年4月1日); day 00 when the day is 不詳."""
    code, _, year = era_of(d)
    day = "00" if unknown_day else f"{d.day:02d}"
    return f"{code}{year:02d}{d.month:02d}{day}"


def dotted(d: date, unknown_day: bool = False) -> str:
    """Vendor B form, for example S52.04.01; day 00 when the day is 不詳."""
    _, letter, year = era_of(d)
    day = "00" if unknown_day else f"{d.day:02d}"
    return f"{letter}{year:02d}.{d.month:02d}.{day}"
