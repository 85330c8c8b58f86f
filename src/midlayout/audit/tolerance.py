"""Numeric tolerances as `diff` and `reconcile` take them, checked before they reach SQL or a comparison."""

from __future__ import annotations

import math

from midlayout.errors import UsageError


def check_tolerance(value: float, option: str = "--tolerance") -> float:
    """A finite number, 0 or more; `inf`, `nan` and negatives are UsageErrors naming `option`.

    >>> check_tolerance(1)
    1.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{option}: {value!r} is not allowed; give a finite number, 0 or more")
    return float(value)
