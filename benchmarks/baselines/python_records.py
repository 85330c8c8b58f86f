"""Baseline: careful per-record Python doing convert's job on vendor A (bytes cut first, then decoded).

Usage: python python_records.py JUMIN.DAT SETAI.DAT OUT_DIR. Writes CSV with the csv module.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import jaconv

from benchmarks.baselines.common import CODES, DOMAINS, JUMIN, SETAI, wareki

WS = " \u3000"


def records(path: Path, source):
    step = source.record_length + len(source.terminator)
    cuts = [(f.id, f.start, f.start + f.length) for f in source.fields]
    with path.open("rb") as fh:
        while True:
            raw = fh.read(step)
            if len(raw) < source.record_length:
                return
            yield {name: raw[a:b].decode("cp932") for name, a, b in cuts}


def fits(value: str, limit: int) -> bool:
    return len(value.encode("cp932")) <= limit


def jumin_row(r: dict[str, str]) -> list | None:
    birth, unknown, ok = wareki(r["BIRTH"])
    ido_date, _, ok2 = wareki(r["IDO_DATE"])
    codes = [
        CODES["sex"].get(r["SEX"]),
        CODES["zokugara"].get(r["ZOKU"]),
        CODES["shubetsu"].get(r["SHUBETSU"]),
        CODES["jotai"].get(r["JOTAI"]),
        CODES["ido"].get(r["IDO_CODE"].strip()),
    ]
    name, addr = r["NAME_KANJI"].strip(WS), (r["ADDR1"].rstrip(WS) + r["ADDR2"].rstrip(WS)).strip(WS)
    domains = DOMAINS["jumin"]
    good = (
        ok
        and ok2
        and None not in codes[:4]
        and codes[0] in domains["seibetsu"]
        and fits(name, 60)
        and fits(addr, 120)
        and r["KISAI_JUNI"].isdigit()
    )
    if not good:
        return None
    kana = jaconv.h2z(r["NAME_KANA"].strip(), kana=True, ascii=False, digit=False)
    return [
        r["ATENA_NO"].strip(),
        r["SETAI_NO"].strip(),
        int(r["KISAI_JUNI"]),
        name,
        kana,
        r["KYUSHI"].strip(WS),
        birth,
        unknown,
        *codes[:4],
        r["ZIP"].strip().replace("-", ""),
        addr,
        r["KATAGAKI"].strip(WS),
        codes[4],
        ido_date,
    ]


def setai_row(r: dict[str, str], names: dict[str, str]) -> list | None:
    kosei, _, ok = wareki(r["KOSEI_DATE"])
    head = r["HEAD_ATENA_NO"].strip()
    addr = (r["ADDR1"].rstrip(WS) + r["ADDR2"].rstrip(WS)).strip(WS)
    if not ok or head not in names or not fits(addr, 120):
        return None
    return [r["SETAI_NO"].strip(), head, names[head], r["ZIP"].strip().replace("-", ""), addr, kosei]


if __name__ == "__main__":
    jumin_path, setai_path, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    with (out / "jumin.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for r in records(jumin_path, JUMIN):
            row = jumin_row(r)
            if row is not None:
                names[row[0]] = row[3]
                w.writerow(row)
    with (out / "setai.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for r in records(setai_path, SETAI):
            row = setai_row(r, names)
            if row is not None:
                w.writerow(row)
