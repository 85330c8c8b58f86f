"""Row validators by name: `fused` (one polars `select` per batch) and `pandera` (the same rules as a schema).

Both take (layout, file, rows, allow=None, proven=()) and return (valid rows, rejects); they give the same
rejects. `allow` maps an item id to the control characters its mapping allows (`allow_control`); `proven`
holds the (item, rule) pairs the run's source proves (mapping/proof.py), which neither checks. pandera is
imported only when its validator is chosen.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from midlayout.errors import UsageError

Validator = Callable[..., tuple[pl.DataFrame, pl.DataFrame]]  # (layout, file, rows, allow=None, proven=())


def _fused() -> Validator:
    from midlayout.validate.rules import validate_rows

    return validate_rows


def _pandera() -> Validator:
    from midlayout.validate.schema import validate_with_pandera

    return validate_with_pandera


VALIDATORS: dict[str, Callable[[], Validator]] = {"fused": _fused, "pandera": _pandera}


def check_validator(name: str) -> None:
    if name not in VALIDATORS:
        raise UsageError(f"unknown validator {name!r} ({' or '.join(VALIDATORS)})")


def get_validator(name: str) -> Validator:
    """The validator called `name`; UsageError naming the known ones otherwise."""
    check_validator(name)
    return VALIDATORS[name]()
