"""Baseline: a straightforward pandas `read_fwf` + pandera (pandas) script doing convert's job on vendor A.

Usage: python pandas_fwf.py JUMIN.DAT SETAI.DAT OUT_DIR. Like most such scripts it passes byte offsets
to read_fwf, which counts characters: the kanji fields come out misaligned (wrong), the timing is what
is measured. SETAI.DAT has no newlines, so its records are cut by bytes and decoded one by one.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import jaconv
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from benchmarks.baselines.common import CODES, DOMAINS, JUMIN, SETAI, wareki


def _read(path: Path, source) -> pd.DataFrame:
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


def _date(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    parsed = series.apply(wareki)
    return parsed.map(lambda p: p[0]), parsed.map(lambda p: p[1])


def _jumin(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"atena_no": df.ATENA_NO.str.strip(), "setai_no": df.SETAI_NO.str.strip()})
    out["kisai_juni"] = pd.to_numeric(df.KISAI_JUNI, errors="coerce")
    out["shimei"] = df.NAME_KANJI.str.strip(" \u3000")
    out["shimei_kana"] = df.NAME_KANA.str.strip().apply(
        lambda s: jaconv.h2z(s, kana=True, ascii=False, digit=False)
    )
    out["kyushi"] = df.KYUSHI.str.strip(" \u3000")
    out["seinengappi"], out["seinengappi_fusho"] = _date(df.BIRTH)
    out["seibetsu"] = df.SEX.map(CODES["sex"])
    out["zokugara"] = df.ZOKU.map(CODES["zokugara"])
    out["jumin_shubetsu"] = df.SHUBETSU.map(CODES["shubetsu"])
    out["jumin_jotai"] = df.JOTAI.map(CODES["jotai"])
    out["yubin_no"] = df.ZIP.str.strip().str.replace("-", "")
    out["jusho"] = (df.ADDR1.str.rstrip(" \u3000") + df.ADDR2.str.rstrip(" \u3000")).str.strip(" \u3000")
    out["katagaki"] = df.KATAGAKI.str.strip(" \u3000")
    out["ido_jiyu"] = df.IDO_CODE.str.strip().map(CODES["ido"])
    out["ido_ymd"], _ = _date(df.IDO_DATE)
    return out


def _setai(df: pd.DataFrame, jumin: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {"setai_no": df.SETAI_NO.str.strip(), "setainushi_atena_no": df.HEAD_ATENA_NO.str.strip()}
    )
    names = jumin.drop_duplicates("atena_no").set_index("atena_no")["shimei"]
    out["setainushi_shimei"] = out.setainushi_atena_no.map(names)
    out["yubin_no"] = df.ZIP.str.strip().str.replace("-", "")
    out["jusho"] = (df.ADDR1.str.rstrip(" \u3000") + df.ADDR2.str.rstrip(" \u3000")).str.strip(" \u3000")
    out["setai_kosei_ymd"], _ = _date(df.KOSEI_DATE)
    return out


def _bytes_le(limit: int) -> pa.Check:
    return pa.Check(
        lambda s: s.map(lambda v: len(v.encode("cp932", errors="replace")) <= limit), element_wise=False
    )


def _schema(file_id: str) -> pa.DataFrameSchema:
    from benchmarks.baselines.common import MAPPING

    columns = {}
    for it in MAPPING.target.file(file_id).items:
        checks = []
        if it.code_table:
            checks.append(pa.Check.isin(sorted(DOMAINS[file_id][it.id])))
        elif it.type == "string" and it.unit == "bytes":
            checks.append(_bytes_le(it.length))
        elif it.type == "string":
            checks.append(pa.Check.str_matches(rf"^[0-9]{{1,{it.length}}}$"))
        columns[it.id] = pa.Column(nullable=not it.required, checks=checks, required=False)
    return pa.DataFrameSchema(columns)


def _validate(df: pd.DataFrame, file_id: str) -> pd.DataFrame:
    """Every rule checked lazily; failing rows are reported, all rows are written (the misaligned kanji
    fields would otherwise reject nearly everything and leave the baseline less to write)."""
    try:
        _schema(file_id).validate(df, lazy=True)
    except SchemaErrors as exc:
        failing = exc.failure_cases["index"].dropna().nunique()
        print(f"{file_id}: {failing} rows fail validation", file=sys.stderr)
    return df


if __name__ == "__main__":
    jumin_path, setai_path, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    jumin = _validate(_jumin(_read(jumin_path, JUMIN)), "jumin")
    setai = _validate(_setai(_read(setai_path, SETAI), jumin), "setai")
    jumin.to_parquet(out / "jumin.parquet")
    setai.to_parquet(out / "setai.parquet")
