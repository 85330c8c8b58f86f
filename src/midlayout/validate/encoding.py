"""Which values a target encoding cannot hold, vectorised (byte lengths are in text/encodings.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from midlayout.text.encodings import CODECS


def unencodable(series: pl.Series, encoding: str) -> np.ndarray:
    """Boolean mask of values that `encoding` cannot hold. One encode call per column when all fit."""
    codec = CODECS[encoding]
    values = series.cast(pl.String)
    try:
        "\n".join(values.drop_nulls().to_list()).encode(codec)
        return np.zeros(len(series), dtype=bool)
    except UnicodeEncodeError:
        pass
    uniques = values.drop_nulls().unique().to_list()
    bad = set()
    for value in uniques:  # error path only: the column holds at least one unencodable value
        try:
            value.encode(codec)
        except UnicodeEncodeError:
            bad.add(value)
    return values.is_in(list(bad)).fill_null(False).to_numpy()


def first_unencodable(value: str, encoding: str) -> tuple[int, str]:
    """Character offset and the character `encoding` cannot hold (for messages)."""
    codec = CODECS[encoding]
    for i, ch in enumerate(value):
        try:
            ch.encode(codec)
        except UnicodeEncodeError:
            return i, ch
    raise ValueError("encodable")
