"""Byte lengths and repertoire checks in a target encoding, vectorised."""

from __future__ import annotations

import numpy as np
import polars as pl

# In CP932 / Shift_JIS, ASCII and half-width katakana take one byte; every other encodable character two.
_SINGLE_BYTE = {
    "cp932": r"[^\x00-\x7F\x{FF61}-\x{FF9F}]",
    "shift_jis": r"[^\x00-\x7F\x{FF61}-\x{FF9F}]",
    "euc-jp": r"[^\x00-\x7F]",
}


def byte_length(expr: pl.Expr, encoding: str) -> pl.Expr:
    """Length in bytes of each string once encoded in `encoding` (EUC-JP: JIS X 0212 counted as 2)."""
    if encoding.startswith("utf-8"):
        return expr.str.len_bytes()
    return expr.str.len_chars() + expr.str.count_matches(_SINGLE_BYTE[encoding])


def unencodable(series: pl.Series, encoding: str) -> np.ndarray:
    """Boolean mask of values that `encoding` cannot hold. One encode call per column when all fit."""
    codec = "utf-8" if encoding.startswith("utf-8") else encoding
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
    codec = "utf-8" if encoding.startswith("utf-8") else encoding
    for i, ch in enumerate(value):
        try:
            ch.encode(codec)
        except UnicodeEncodeError:
            return i, ch
    raise ValueError("encodable")
