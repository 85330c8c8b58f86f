"""Baseline: a plain `pandas.read_fwf(encoding='cp932')` of vendor A, no mapping and no validation.

Usage: python pandas_plain.py JUMIN.DAT SETAI.DAT. The naive script a vendor SE writes first: the byte
offsets of the layout passed as read_fwf colspecs (which count characters, so kanji fields come out
misaligned), every column as text. SETAI.DAT has no newlines, so its records are cut by bytes and decoded
one by one. Only the time is measured; the frames are dropped.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd

from benchmarks.baselines.common import JUMIN, SETAI


def read(path: Path, source) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    specs = [(f.start, f.start + f.length) for f in source.fields]
    names = [f.id for f in source.fields]
    if source.terminator:
        return pd.read_fwf(
            path, colspecs=specs, names=names, encoding="cp932", dtype=str, keep_default_na=False
        )
    data = path.read_bytes()
    step = source.record_length
    text = "\n".join(data[i : i + step].decode("cp932") for i in range(0, len(data), step))
    return pd.read_fwf(io.StringIO(text), colspecs=specs, names=names, dtype=str, keep_default_na=False)


def main() -> None:
    jumin, setai = (Path(p) for p in sys.argv[1:3])
    rows = len(read(jumin, JUMIN)) + len(read(setai, SETAI))
    print(rows)


if __name__ == "__main__":
    main()
