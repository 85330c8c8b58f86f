"""Synthetic before/after pairs in the intermediate layout, with known additions, removals, changes and duplicates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from midlayout.layout.registry import resolve
from midlayout.writers import get_writer

AMOUNT_ITEMS = (
    "kyuyo_shunyu",
    "sogo_shotoku",
    "shotoku_kojo",
    "kazei_hyojun",
    "shichoson_shotokuwari",
    "todofuken_shotokuwari",
    "kintowari",
    "zeigaku",
)


def atena(i: int) -> str:
    return f"{i:015d}"


def kazei(ids: range | list[int], nendo: int = 2024) -> pl.DataFrame:
    """個人住民税課税 rows whose amounts are derived from the row number (synthetic)."""
    ids = list(ids)
    amounts = {item: [(k + 1) * 100_000 + i * 1_000 for i in ids] for k, item in enumerate(AMOUNT_ITEMS)}
    return pl.DataFrame(
        {
            "kazei_nendo": [nendo] * len(ids),
            "atena_no": [atena(i) for i in ids],
            "kazei_kubun": ["1"] * len(ids),
            "choshu_kubun": ["1" if i % 2 else "2" for i in ids],
            **amounts,
        }
    )


def set_value(frame: pl.DataFrame, i: int, item: str, value: object) -> pl.DataFrame:
    """The frame with `item` of the row of 宛名番号 `i` replaced."""
    hit = pl.col("atena_no") == atena(i)
    return frame.with_columns(
        pl.when(hit).then(pl.lit(value)).otherwise(pl.col(item)).cast(frame.schema[item]).alias(item)
    )


def kazei_pair() -> tuple[pl.DataFrame, pl.DataFrame]:
    """before: 1..20. after: 1, 2 removed; 21-23 added; 5, 6 zeigaku +100; 7 kazei_kubun 2; 12 kintowari +1;
    10 twice (a duplicate key)."""
    before = kazei(range(1, 21))
    after = kazei(range(3, 24))
    for i in (5, 6):
        after = set_value(
            after, i, "zeigaku", after.filter(pl.col("atena_no") == atena(i))["zeigaku"][0] + 100
        )
    after = set_value(after, 7, "kazei_kubun", "2")
    after = set_value(
        after, 12, "kintowari", after.filter(pl.col("atena_no") == atena(12))["kintowari"][0] + 1
    )
    after = pl.concat([after, after.filter(pl.col("atena_no") == atena(10))])
    return before, after


def jumin(ids: range | list[int]) -> pl.DataFrame:
    """住民 rows (synthetic names and addresses), every item of the layout file."""
    ids = list(ids)
    n = len(ids)
    return pl.DataFrame(
        {
            "atena_no": [atena(i) for i in ids],
            "setai_no": [f"{900 + i // 3:015d}" for i in ids],
            "kisai_juni": [i % 3 + 1 for i in ids],
            "shimei": [f"試験　太郎{i}" for i in ids],
            "shimei_kana": [f"シケン　タロウ{i}" for i in ids],
            "kyushi": [None] * n,
            "kyushi_kana": [None] * n,
            "seinengappi": [dt.date(1980, 1, 1) + dt.timedelta(days=i) for i in ids],
            "seinengappi_fusho": [False] * n,
            "seibetsu": ["1" if i % 2 else "2" for i in ids],
            "zokugara": ["02" if i % 3 == 0 else "20" for i in ids],
            "jumin_shubetsu": ["1"] * n,
            "jumin_jotai": ["1"] * n,
            "yubin_no": ["1000001"] * n,
            "jusho": [f"東京都千代田区試験町{i}番地" for i in ids],
            "katagaki": [f"ＡＢＣ{i}号" for i in ids],
            "ido_jiyu": [None] * n,
            "ido_ymd": [None] * n,
        },
        schema_overrides={
            "kyushi": pl.String,
            "kyushi_kana": pl.String,
            "ido_jiyu": pl.String,
            "ido_ymd": pl.Date,
        },
    )


def write(ref: str, file_id: str, frame: pl.DataFrame, out: Path, writer: str = "parquet") -> Path:
    """Write `frame` with the project's writer; return the file (or `db.duckdb:gyomu.file`) written."""
    lay = resolve(ref)
    fdef = lay.file(file_id)
    w = get_writer(writer)(out)
    w.start(lay, fdef)
    w.write(lay, fdef, frame.select(fdef.item_ids))
    path = w.commit()[0].path
    return f"{path}:{lay.gyomu}.{file_id}" if writer == "duckdb" else path
