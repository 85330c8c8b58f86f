"""One contract for every discovered writer (built-ins, PostgreSQL and the example plugin included):
what it writes reads back as the rows that went in, and an abort after a batch leaves nothing visible."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.layout.model import FileDef, Layout
from midlayout.layout.registry import resolve
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.writers import Output, registry
from tests.conftest import MAPPINGS
from tests.synth import vendor_a

LOAD_ID = "c" * 64
TARGETS = [("juki", "jumin"), ("kojin_juminzei", "kazei")]
Rows = dict[tuple[str, str], pl.DataFrame]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """Typed rows of two layout files (every item type among them), as the pipeline hands them to writers."""
    tmp = tmp_path_factory.mktemp("writer-contract")
    mappings = [load_mapping(MAPPINGS / "vendor_a" / n) for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]
    result = convert(
        mappings, [str(p) for p in vendor_a(tmp / "in", 4, 5)], tmp / "out", ConvertOptions(("parquet",))
    )
    assert result.rejected == 0
    found = {(g, f): pl.read_parquet(tmp / "out" / "parquet" / g / f"{f}.parquet") for g, f in TARGETS}
    assert all(frame.height >= 4 for frame in found.values())
    return found


def _text(frame: pl.DataFrame, lay: Layout, file: FileDef) -> pl.DataFrame:
    """Text columns (as the standard CSV and fixed-width files hold them) typed back as the layout says."""
    cols = []
    for it in file.items:
        c = pl.col(it.id)
        if it.type == "date":
            cols.append(c.str.to_date("%Y%m%d"))
        elif it.type == "flag":
            cols.append(c.cast(pl.Int8).cast(pl.Boolean))
        elif it.type == "number":
            cols.append(c.cast(pl.Float64))
        else:
            cols.append(c)
    return frame.with_columns(cols)


def _read_standard(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    path = Path(next(o.path for o in out if o.target == f"{lay.ref}:{file.id}"))
    frame = pl.read_csv(path.read_bytes().decode(lay.encoding).encode(), infer_schema=False)
    return frame.rename({it.name: it.id for it in file.items})


def _read_fixed(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    path = Path(next(o.path for o in out if o.target == f"{lay.ref}:{file.id}"))
    data, width = path.read_bytes(), sum(it.length for it in file.items) + 2
    records, values = [data[i : i + width] for i in range(0, len(data), width)], {}
    start = 0
    for it in file.items:
        cut = [r[start : start + it.length].decode(lay.encoding).rstrip(" ") or None for r in records]
        values[it.id], start = cut, start + it.length
    return pl.DataFrame(values, schema=dict.fromkeys(values, pl.String))


def _read_parquet(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    return pl.read_parquet(next(o.path for o in out if o.target == f"{lay.ref}:{file.id}"))


def _read_duckdb(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    with duckdb.connect(out[0].path, read_only=True) as con:
        table = con.sql(f'SELECT * FROM "{lay.gyomu}"."{file.id}"').to_arrow_table()
    return pl.DataFrame(pl.from_arrow(table))


def _read_postgres(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    import psycopg

    details = next(o.details for o in out if o.target == f"{lay.ref}:{file.id}")
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(
            psycopg.sql.SQL("SELECT * FROM {}.{}").format(
                psycopg.sql.Identifier(details["schema"]), psycopg.sql.Identifier(details["table"])
            )
        )
        names = [d.name for d in cur.description or ()]
        records = cur.fetchall()
    return pl.DataFrame([dict(zip(names, r, strict=True)) for r in records], infer_schema_length=None)


def _read_example(out: list[Output], lay: Layout, file: FileDef, dsn: str) -> pl.DataFrame:
    path = Path(next(o.path for o in out if o.target == f"{lay.ref}:{file.id}"))
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pl.DataFrame(records, infer_schema_length=None)


# How each writer's output is read back, and whether it holds text (typed back here) or typed values.
READ_BACK: dict[str, tuple[Callable[[list[Output], Layout, FileDef, str], pl.DataFrame], bool]] = {
    "standard": (_read_standard, True),
    "fixed": (_read_fixed, True),
    "parquet": (_read_parquet, False),
    "duckdb": (_read_duckdb, False),
    "postgres": (_read_postgres, False),
    "example": (_read_example, False),
}


def _comparable(frame: pl.DataFrame, lay: Layout, file: FileDef, text: bool) -> list[dict[str, Any]]:
    """Rows in key order, each value as a plain comparable Python value."""
    if text:
        frame = _text(frame, lay, file)
    out = []
    for row in frame.select(file.item_ids).sort(list(file.key)).to_dicts():
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _zero_filled(frame: pl.DataFrame, file: FileDef) -> pl.DataFrame:
    """A fixed-width file zero-fills digit items to their length (its rule; the value's meaning is kept)."""
    digits = [it for it in file.items if it.unit == "digits" and it.type in ("string", "code")]
    return frame.with_columns(pl.col(it.id).str.zfill(it.length) for it in digits)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal | int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
        return dt.date.fromisoformat(v)  # a date in JSON
    return v


def _options(name: str, request: pytest.FixtureRequest, suffix: str = "") -> tuple[dict[str, Any], str]:
    if name != "postgres":
        return {}, ""
    dsn, prefix = request.getfixturevalue("pg")
    return {"dsn": dsn, "schema_prefix": prefix + suffix, "meta_schema": prefix + suffix + "meta"}, dsn


def _targets(rows: Rows) -> list[tuple[Layout, FileDef, pl.DataFrame]]:
    found = []
    for (gyomu, file_id), frame in rows.items():
        lay = resolve(f"chukan/{gyomu}@2.5")
        found.append((lay, lay.file(file_id), frame))
    return found


def _start(writer: Any, rows: Rows) -> list[tuple[Layout, FileDef, pl.DataFrame]]:
    targets = _targets(rows)
    for lay, file, _ in targets:
        writer.start(lay, file)
    return targets


def test_every_discovered_writer_has_a_read_back() -> None:
    """A writer added without a read-back here fails this test instead of escaping the contract."""
    assert set(registry.available()) == set(READ_BACK)


@pytest.mark.parametrize("name", sorted(READ_BACK))
def test_writer_round_trip_then_abort_after_a_batch(
    name: str, rows: Rows, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cls = registry.get_writer(name)
    options, dsn = _options(name, request)
    writer = cls(tmp_path / "out", options, LOAD_ID)
    for lay, file, frame in _start(writer, rows):  # two batches per file
        writer.write(lay, file, frame.head(2))
        writer.write(lay, file, frame.slice(2))
    writer.prepare()
    outputs = writer.commit()
    read, text = READ_BACK[name]
    for lay, file, frame in _targets(rows):
        got = _comparable(read(outputs, lay, file, dsn), lay, file, text)
        want = _zero_filled(frame, file) if name == "fixed" else frame
        assert got == _comparable(want, lay, file, False), (name, file.id)
        assert next(o.rows for o in outputs if f"{lay.ref}:{file.id}" in o.target.split(",")) >= frame.height

    options, dsn = _options(name, request, "ab_")
    aborted = cls(tmp_path / "aborted", options, LOAD_ID)
    for lay, file, frame in _start(aborted, rows):
        aborted.write(lay, file, frame.head(2))
    aborted.abort()
    assert [p for p in (tmp_path / "aborted").rglob("*") if p.is_file()] == []
    if name == "postgres":
        import psycopg

        with psycopg.connect(dsn) as conn:
            left = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE starts_with(table_schema, %s)",
                [options["schema_prefix"]],
            ).fetchone()
        assert left == (0,)


def test_built_in_file_writers_stream() -> None:
    """Which writers get batches while the run reads (Writer.STREAMING); PostgreSQL needs its load id first."""
    streaming = {name for name, cls in registry.available().items() if cls.STREAMING}
    assert streaming == {"parquet", "duckdb", "standard", "fixed", "example"}


@pytest.mark.parametrize("name", sorted(n for n, c in registry.available().items() if c.STREAMING))
def test_streaming_writer_starts_a_file_anew(name: str, rows: Rows, tmp_path: Path) -> None:
    """`start` again for a started file drops what it got (the cross-file rules rejected rows of it); the
    other files keep theirs; the load id may be set after the batches (it is known only then)."""
    cls = registry.get_writer(name)
    writer = cls(tmp_path / "out", {}, "0" * 64)
    targets = _start(writer, rows)
    for lay, file, frame in targets:
        writer.write(lay, file, frame.head(3))
    again_lay, again_file, again_frame = targets[0]
    writer.start(again_lay, again_file)
    writer.write(again_lay, again_file, again_frame.slice(1))  # the first row rejected, say
    for lay, file, frame in targets[1:]:
        writer.write(lay, file, frame.slice(3))
    writer.load_id = LOAD_ID
    writer.prepare()
    outputs = writer.commit()
    read, text = READ_BACK[name]
    for lay, file, frame in targets:
        want = frame.slice(1) if file is again_file else frame
        got = _comparable(read(outputs, lay, file, ""), lay, file, text)
        assert got == _comparable(_zero_filled(want, file) if name == "fixed" else want, lay, file, False)
    rows_of = {t: o.rows for o in outputs for t in o.target.split(",")}
    if name != "duckdb":  # one output per file; DuckDB reports the database's total
        assert rows_of[f"{again_lay.ref}:{again_file.id}"] == again_frame.height - 1
    assert [p.name for p in (tmp_path / "out").rglob("*") if ".tmp-" in p.name] == []


@pytest.mark.parametrize("name", sorted(n for n, c in registry.available().items() if c.STREAMING))
def test_output_hashes_are_the_files_hashes_after_a_restart(
    name: str, rows: Rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sha256 (and DuckDB's content_sha256) a writer reports, taken before the rename (in `prepare`) or
    from the bytes as they were written (files of a StreamFileWriter, which are then never read to hash:
    a target started anew hashes only its new bytes), are those of the committed files."""
    from midlayout.writers import base
    from midlayout.writers.duckdb_content import content_sha256

    cls = registry.get_writer(name)
    if issubclass(cls, base.StreamFileWriter):

        def unread(path: Path) -> str:
            raise AssertionError(f"{path} was read again to hash it")

        monkeypatch.setattr(base, "sha256_path", unread)
    writer = cls(tmp_path / "out", {}, LOAD_ID)
    targets = _start(writer, rows)
    for lay, file, frame in targets:
        writer.write(lay, file, frame.head(3))
    writer.start(targets[0][0], targets[0][1])
    for lay, file, frame in targets:
        writer.write(lay, file, frame.slice(1))
    writer.prepare()
    outputs = writer.commit()
    monkeypatch.undo()
    assert outputs and all(o.sha256 == base.sha256_path(Path(o.path)) for o in outputs)
    if name == "duckdb":
        assert [o.details["content_sha256"] for o in outputs] == [content_sha256(Path(outputs[0].path))]
