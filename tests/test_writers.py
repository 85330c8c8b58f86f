"""One contract for every file writer: what it writes reads back as the rows that went in, and abort leaves nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.layout.registry import resolve
from midlayout.pipeline.convert import ConvertOptions, ConvertResult, convert
from midlayout.writers import get_writer
from midlayout.writers.fixed import OutputError, render_fixed
from tests.conftest import LAYOUTS, MAPPINGS
from tests.synth import vendor_a

TARGETS = [("juki", "setai"), ("juki", "jumin"), ("kojin_juminzei", "kazei")]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> ConvertResult:
    tmp = tmp_path_factory.mktemp("contract")
    inputs = [str(p) for p in vendor_a(tmp / "in", 6, 3)]
    mappings = [
        load_mapping(MAPPINGS / "vendor_a" / n, LAYOUTS) for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")
    ]
    options = ConvertOptions(
        ("duckdb", "parquet", "standard", "fixed"),
        {"parquet": {"partition_by": "setai_no"}},
        batch_size=10,
    )
    return convert(mappings, inputs, tmp / "out", options)


def reference(result: ConvertResult, gyomu: str, file: str) -> pl.DataFrame:
    """The rows as the DuckDB writer stored them (typed), in key order."""
    lay = resolve(f"chukan/{gyomu}@2.5")
    with duckdb.connect(str(result.out_dir / "midlayout.duckdb"), read_only=True) as con:
        frame = pl.DataFrame(pl.from_arrow(con.sql(f'SELECT * FROM "{gyomu}"."{file}"').to_arrow_table()))
    return frame.sort(list(lay.file(file).key))


def test_reference_holds_every_written_row(converted: ConvertResult) -> None:
    assert converted.rejected == 0
    written = sum(i.records_written for i in converted.manifest.inputs)
    assert sum(reference(converted, g, f).height for g, f in TARGETS) == written > 20


@pytest.mark.parametrize(("gyomu", "file"), TARGETS)
def test_parquet_reads_back_whole_or_partitioned(converted: ConvertResult, gyomu: str, file: str) -> None:
    lay = resolve(f"chukan/{gyomu}@2.5")
    base = converted.out_dir / "parquet" / gyomu
    if "setai_no" in lay.file(file).item_ids:
        parts = sorted((base / file).glob("setai_no=*/part-*.parquet"))
        assert len(parts) >= 6 and all(
            p.parent.name == f"setai_no={pl.read_parquet(p)['setai_no'][0]}" for p in parts
        )
        frame = pl.concat([pl.read_parquet(p) for p in parts])
    else:
        frame = pl.read_parquet(base / f"{file}.parquet")
    ref = reference(converted, gyomu, file)
    assert frame.sort(list(lay.file(file).key)).to_dicts() == ref.to_dicts()


def _expected_fixed(layout: Layout, file: FileDef, rows: list[dict[str, object]]) -> bytes:
    """An independent, per-value rendering of the fixed-width rules."""
    out = b""
    for row in rows:
        for it in file.items:
            v = row[it.id]
            if v is None:
                out += b" " * it.length
            elif it.type == "date":
                out += v.strftime("%Y%m%d").encode()  # type: ignore[attr-defined]
            elif it.type == "flag":
                out += b"1" if v else b"0"
            elif it.unit == "bytes":
                out += str(v).encode(layout.encoding).ljust(it.length, b" ")
            else:
                out += str(v).rjust(it.length, "0").encode()
        out += b"\r\n"
    return out


@pytest.mark.parametrize(("gyomu", "file"), TARGETS)
def test_fixed_width_matches_an_independent_rendering(
    converted: ConvertResult, gyomu: str, file: str
) -> None:
    lay = resolve(f"chukan/{gyomu}@2.5")
    data = (converted.out_dir / "fixed" / gyomu / f"{file}.dat").read_bytes()
    ref = reference(converted, gyomu, file)
    width = sum(it.length for it in lay.file(file).items) + 2
    assert len(data) == ref.height * width
    records = sorted(data[i : i + width] for i in range(0, len(data), width))
    assert records == sorted(_expected_fixed(lay, lay.file(file), [r]) for r in ref.to_dicts())


@pytest.mark.parametrize(("gyomu", "file"), TARGETS)
def test_standard_csv_reads_back(converted: ConvertResult, gyomu: str, file: str) -> None:
    lay = resolve(f"chukan/{gyomu}@2.5")
    path = converted.out_dir / "standard" / gyomu / f"{file}.csv"
    frame = pl.read_csv(path.read_bytes().decode(lay.encoding).encode(), infer_schema=False)
    assert frame.columns == [it.name for it in lay.file(file).items]
    ref = reference(converted, gyomu, file)
    key = lay.file(file).item(lay.file(file).key[-1]).name
    assert frame.height == ref.height
    got = frame.sort(key).row(0, named=True)
    want = ref.sort(lay.file(file).key[-1]).row(0, named=True)
    for it in lay.file(file).items:
        v = want[it.id]
        text = (
            None
            if v is None
            else v.strftime("%Y%m%d")
            if it.type == "date"
            else str(int(v))
            if it.type == "flag"
            else str(v)
        )
        assert got[it.name] == text, it.id


def test_manifest_lists_each_output_with_its_hash(converted: ConvertResult) -> None:
    outs = {(o["writer"], o["target"]): o for o in converted.manifest.outputs}
    part = outs[("parquet", "chukan/juki@2.5:jumin")]
    assert Path(part["path"]).is_dir() and len(part["sha256"]) == 64
    assert outs[("fixed", "chukan/kojin_juminzei@2.5:kazei")]["path"].endswith(
        "fixed/kojin_juminzei/kazei.dat"
    )


ITEMS = (
    Item(1, "code", "コード", "code", 2, "digits", True),
    Item(2, "name", "名前", "string", 6, "bytes", False),
    Item(3, "amount", "金額", "number", 5, "digits", False),
    Item(4, "rate", "率", "number", 5, "digits", False, scale=2),
    Item(5, "day", "日", "date", 8, "digits", False),
    Item(6, "flag", "旗", "flag", 1, "digits", False),
)
TINY_FILE = FileDef("t", "テスト", ("code",), ITEMS)
TINY = Layout("x", "x", "g", "g", "1", "cp932", "", (TINY_FILE,), {}, Path("x.yaml"), "")


def _frame(**overrides: object) -> pl.DataFrame:
    row = {
        "code": "7",
        "name": "ｱ髙",
        "amount": -42,
        "rate": Decimal("1.25"),
        "day": dt.date(2019, 4, 30),
        "flag": True,
    }
    row.update(overrides)
    return pl.DataFrame(
        [row],
        schema={
            "code": pl.String,
            "name": pl.String,
            "amount": pl.Int64,
            "rate": pl.Decimal(5, 2),
            "day": pl.Date,
            "flag": pl.Boolean,
        },
    )


def test_fixed_pads_bytes_zero_fills_digits_and_blanks_nulls() -> None:
    assert (
        render_fixed(TINY, TINY_FILE, _frame())
        == b"07" + "ｱ髙".encode("cp932") + b"   -004200125201904301\r\n"
    )
    blank = render_fixed(TINY, TINY_FILE, _frame(name=None, amount=None, rate=None, day=None, flag=None))
    assert blank == b"07" + b" " * 25 + b"\r\n"


@pytest.mark.parametrize(
    ("field", "value"), [("name", "髙橋ｶﾅｺ"), ("amount", 123456), ("amount", -12345), ("code", "123")]
)
def test_fixed_refuses_a_value_that_does_not_fit(field: str, value: object) -> None:
    frame = pl.concat([_frame(code="01"), _frame(**{"code": "02", field: value})])
    with pytest.raises(OutputError, match="does not fit") as info:
        render_fixed(TINY, TINY_FILE, frame, first_record=10)
    assert (info.value.location.field, info.value.location.record) == (field, 11)


@pytest.mark.parametrize("name", ["standard", "fixed", "parquet", "duckdb"])
def test_abort_leaves_nothing_behind(tmp_path: Path, name: str) -> None:
    lay = resolve("chukan/kojin_juminzei@2.5")
    writer = get_writer(name)(tmp_path, {"partition_by": "atena_no"} if name == "parquet" else {})
    writer.start(lay, lay.file("kazei"))
    writer.abort()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
