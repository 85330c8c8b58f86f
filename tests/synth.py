"""Synthetic vendor extracts in the shapes of the bundled samples (A社 fixed-width CP932, B社 CSV UTF-8 BOM).

Every value is invented. Households are generated with exactly one 世帯主 and 記載順位 1..n, so a conversion
of these inputs has no rejects unless a test breaks a record on purpose.
"""

from __future__ import annotations

import random
from pathlib import Path

from tests.conftest import fixed_record

SURNAMES = [
    ("山田", "ﾔﾏﾀﾞ", "ヤマダ"),
    ("髙橋", "ﾀｶﾊｼ", "タカハシ"),
    ("山﨑", "ﾔﾏｻﾞｷ", "ヤマザキ"),
    ("佐藤", "ｻﾄｳ", "サトウ"),
]
GIVEN = [
    ("太郎", "ﾀﾛｳ", "タロウ"),
    ("花子", "ﾊﾅｺ", "ハナコ"),
    ("一郎", "ｲﾁﾛｳ", "イチロウ"),
    ("桜", "ｻｸﾗ", "サクラ"),
]
TOWNS = ["架空県架空市中央町", "架空県架空市東町", "架空県架空市西町"]


def _households(n: int, seed: int) -> list[list[dict[str, object]]]:
    """`n` households of 1..3 members: (atena, setai, juni, names, role) with a 世帯主 first."""
    rng = random.Random(seed)
    out, atena = [], 1
    for h in range(1, n + 1):
        sur = rng.choice(SURNAMES)
        members = []
        for juni in range(1, rng.randint(1, 3) + 1):
            giv = rng.choice(GIVEN)
            members.append(
                {
                    "atena": atena,
                    "setai": h,
                    "juni": juni,
                    "sur": sur,
                    "giv": giv,
                    "role": ("head", "spouse", "child")[juni - 1],
                    "town": TOWNS[h % len(TOWNS)],
                    "yy": rng.randint(2, 30),
                    "mm": rng.randint(1, 12),
                    "dd": rng.randint(1, 28),
                }
            )
            atena += 1
        out.append(members)
    return out


def vendor_a(folder: Path, households: int = 5, seed: int = 1) -> list[Path]:
    """Write JUMIN.DAT (CRLF), SETAI.DAT (no newline) and ZEI.DAT (CRLF) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    zoku = {"head": "01", "spouse": "02", "child": "04"}
    jumin, setai, zei = [], [], []
    for members in _households(households, seed):
        head = members[0]
        for m in members:
            sur, giv = m["sur"], m["giv"]  # type: ignore[misc]
            jumin.append(
                fixed_record(
                    [
                        (f"{m['atena']:010d}", 10),
                        (f"{m['setai']:010d}", 10),
                        (f"{m['juni']:02d}", 2),
                        (f"{sur[0]}　{giv[0]}", 40),
                        (f"{sur[1]} {giv[1]}", 30),
                        ("", 20),
                        (f"4{m['yy']:02d}{m['mm']:02d}{m['dd']:02d}", 7),
                        ("M" if m["juni"] != 2 else "F", 1),
                        (zoku[str(m["role"])], 2),
                        ("J", 1),
                        ("0", 1),
                        ("123-4567", 8),
                        (str(m["town"]), 60),
                        (f"{m['setai']}番地", 40),
                        ("", 40),
                        ("A1", 2),
                        ("4300401", 7),
                    ],
                    300,
                )
                + b"\r\n"
            )
            zei.append(
                fixed_record(
                    [
                        ("2024", 4),
                        (f"{m['atena']:010d}", 10),
                        ("1", 1),
                        ("F", 1),
                        ("00003000000", 11),
                        ("00002000000", 11),
                        ("00000500000", 11),
                        ("00001500000", 11),
                        ("0000090000", 10),
                        ("0000060000", 10),
                        ("00005000", 8),
                        ("00000155000", 11),
                    ],
                    120,
                )
                + b"\r\n"
            )
        setai.append(
            fixed_record(
                [
                    (f"{head['setai']:010d}", 10),
                    (f"{head['atena']:010d}", 10),
                    ("123-4567", 8),
                    (str(head["town"]), 60),
                    (f"{head['setai']}番地", 40),
                    ("4300401", 7),
                ],
                150,
            )
        )
    paths = [folder / "JUMIN.DAT", folder / "SETAI.DAT", folder / "ZEI.DAT"]
    for path, records in zip(paths, (jumin, setai, zei), strict=True):
        path.write_bytes(b"".join(records))
    return paths


def vendor_b(folder: Path, households: int = 5, seed: int = 2) -> list[Path]:
    """Write person.csv and household.csv (UTF-8 with a BOM, quoted) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    role = {"head": "世帯主", "spouse": "妻", "child": "子"}
    person = [
        "住民コード,世帯コード,世帯内順位,氏名,フリガナ,旧氏,性別,生年月日,続柄,住民区分,状態,郵便番号,住所,方書"
    ]
    household = ["世帯コード,世帯主,郵便番号,住所"]
    for members in _households(households, seed):
        head = members[0]
        for m in members:
            sur, giv = m["sur"], m["giv"]  # type: ignore[misc]
            person.append(
                ",".join(
                    f'"{v}"'
                    for v in (
                        f"B{m['atena']:08d}"[1:],
                        f"{m['setai']:06d}",
                        m["juni"],
                        f"{sur[0]} {giv[0]}",
                        f"{sur[2]} {giv[2]}",
                        "",
                        "女" if m["juni"] == 2 else "男",
                        f"H{m['yy']}.{m['mm']:02d}.{m['dd']:02d}",
                        role[str(m["role"])],
                        "日本人",
                        "住民",
                        "１２３－４５６７",
                        f"{m['town']}{m['setai']}番地",
                        "",
                    )
                )
            )
        sur = head["sur"]  # type: ignore[assignment]
        household.append(
            ",".join(
                f'"{v}"'
                for v in (
                    f"{head['setai']:06d}",
                    f"B{head['atena']:08d}"[1:] + f" {sur[0]}",
                    "１２３－４５６７",  # type: ignore[index]
                    f"{head['town']}{head['setai']}番地",
                )
            )
        )
    paths = [folder / "person.csv", folder / "household.csv"]
    for path, lines in zip(paths, (person, household), strict=True):
        path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return paths
