"""What the baselines share: the vendor A layout and mapping, read through midlayout's YAML loaders only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from midlayout.layout.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[2]
MAPPING = load_mapping(ROOT / "mappings" / "vendor_a" / "juki-2.5.yaml")
JUMIN, SETAI = MAPPING.source.file("jumin"), MAPPING.source.file("setai")
CODES = {name: dict(cm.map) for name, cm in MAPPING.code_maps.items()}
DOMAINS = {
    f.id: {it.id: set(MAPPING.target.code_tables[it.code_table].codes) for it in f.items if it.code_table}
    for f in MAPPING.target.files
}
ERA_START = {"1": 1868, "2": 1912, "3": 1926, "4": 1989, "5": 2019}


def wareki(value: str) -> tuple[dt.date | None, bool, bool]:
    """Era code + YYMMDD → (date, unknown, ok), the way a hand-written script does it (no era-range check)."""
    value = value.strip()
    if not value:
        return None, False, True
    if len(value) != 7 or value[0] not in ERA_START or not value[1:].isdigit():
        return None, False, False
    year, month, day = ERA_START[value[0]] + int(value[1:3]) - 1, int(value[3:5]), int(value[5:7])
    if month == 0 or day == 0:
        return None, True, True
    try:
        return dt.date(year, month, day), False, True
    except ValueError:
        return None, False, False
