"""個人住民税 assessments for 課税年度 2024 with amounts that agree with each other."""

from __future__ import annotations

import random
from math import exp
from statistics import NormalDist

NENDO = 2024
KINTO = 5000  # 均等割
BASIC_DEDUCTION = 430_000  # 基礎控除
KINTO_LIMIT = 450_000  # 総所得 at or below this: 非課税 (illustrative)


# (課税区分, 徴収区分, amounts in ZEI record order: 給与収入, 総所得, 控除, 課税標準, 市町村民税所得割,
#  道府県民税所得割, 均等割, 税額合計); a plain tuple because a million are made.
Tax = tuple[str, str, tuple[int, int, int, int, int, int, int, int]]


def thousands(amount: float) -> int:
    """An amount rounded to whole 1,000 yen, as an int."""
    return round(amount / 1000) * 1000


def _salary_table(n: int = 1000) -> tuple[int, ...]:
    """Full-time salaries at `n` quantiles of a log-normal (median about 4.2 million yen)."""
    dist = NormalDist(15.25, 0.5)
    return tuple(
        max(1_000_000, min(20_000_000, thousands(exp(dist.inv_cdf((i + 0.5) / n))))) for i in range(n)
    )


_SALARIES = _salary_table()


def salary(rng: random.Random, age: int) -> int:
    """給与収入 in yen, rounded to 1,000: most working-age adults earn, few students or elders do."""
    if 23 <= age < 65 and rng.random() < 0.85:
        return _SALARIES[int(rng.random() * len(_SALARIES))]
    if rng.random() < (0.4 if age < 23 else 0.25):
        return (300 + int(rng.random() * 2201)) * 1000
    return 0


def assess(rng: random.Random, age: int) -> Tax:
    """Draw an income and derive every amount: 課税標準 = max(総所得 − 控除, 0), 所得割 6% + 4%."""
    kyuyo = salary(rng, age)
    sotoku = (kyuyo * 7 + 5) // 10
    kojo = BASIC_DEDUCTION + thousands(kyuyo * 0.15) + (330_000 if rng.random() < 0.3 else 0)
    kazei = max(sotoku - kojo, 0)
    shizei, kenzei = kazei * 6 // 100, kazei * 4 // 100
    if shizei + kenzei > 0:
        kubun = "1"
    else:
        kubun = "2" if sotoku > KINTO_LIMIT else "3"
    kinto = KINTO if kubun != "3" else 0
    yen = (kyuyo, sotoku, kojo, kazei, shizei, kenzei, kinto, shizei + kenzei + kinto)
    return kubun, choshu(rng, age, kubun, kyuyo), yen


def choshu(rng: random.Random, age: int, kubun: str, kyuyo: int) -> str:
    """徴収区分: 給与特徴 for most earners, 年金特徴 for many elders, else 普通徴収."""
    if kubun == "3":
        return "F"
    if kyuyo and age < 65 and rng.random() < 0.8:
        return "K"
    if age >= 65 and rng.random() < 0.6:
        return "N"
    return "F"
