"""Locate intermediate-layout files (standard CSV, Parquet, DuckDB table) and expose them to DuckDB as typed views."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from midlayout.duckcon import open_duckdb
from midlayout.errors import InputError, Location, UsageError
from midlayout.layout.dtypes import polars_dtype
from midlayout.layout.model import FileDef, Item, Layout
from midlayout.mapping.compile import CompiledFile, compile_file
from midlayout.memlimit import parse_memory_limit
from midlayout.pipeline.identity import identity_mapping, only_files
from midlayout.pipeline.readmap import read_input
from midlayout.sql import ident as quote_ident
from midlayout.sql import literal as sql_string
from midlayout.sql import number as sql_number
from midlayout.text.encodings import CODECS
from midlayout.text.normalize import hankaku_kana_to_zenkaku, trim, zenkaku_ascii_to_hankaku

NORM_PREFIX = "_n_"


@dataclass(frozen=True)
class Normalise:
    """Opt-in text folding applied before comparing string and code items (never to keys)."""

    trailing_spaces: bool = False
    width: bool = False

    @property
    def active(self) -> bool:
        return self.trailing_spaces or self.width

    def expr(self, col: pl.Expr) -> pl.Expr:
        """The folded value: right-trimmed and/or ASCII half-width + kana full-width."""
        if self.trailing_spaces:
            col = trim(col, side="right")
        if self.width:
            col = hankaku_kana_to_zenkaku(zenkaku_ascii_to_hankaku(col, spaces=True))
        return col


@dataclass(frozen=True)
class Source:
    """One file of a layout, located: standard CSV, Parquet or a table of a DuckDB database."""

    spec: str
    kind: str  # "csv", "parquet" or "duckdb"
    path: Path
    layout: Layout
    file: FileDef
    table: str | None = None
    columns: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.path}:{self.table}" if self.table else str(self.path)


def _split_spec(spec: str) -> tuple[Path, str | None]:
    marker = ".duckdb:"
    if marker in spec:
        head, table = spec.rsplit(marker, 1)
        return Path(head + ".duckdb"), table
    return Path(spec), None


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    try:
        text = first.decode(CODECS[encoding]).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"header row is not valid {encoding} ({exc.reason})", Location(file=str(path), record=0)
        ) from None
    return next(csv.reader(io.StringIO(text)), [])


def _duckdb_columns(path: Path, table: str) -> list[str]:
    if "." not in table:
        raise UsageError(f"{path}: name the table as {path}:GYOMU.FILE (e.g. {path}:juki.jumin)")
    schema, name = table.split(".", 1)
    try:
        with open_duckdb(str(path), read_only=True) as con:
            rows = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
    except duckdb.Error as exc:
        raise InputError(
            f"not a readable DuckDB database ({str(exc).splitlines()[0]})", Location(file=str(path))
        ) from None
    if not rows:
        raise InputError(f"no table {table}", Location(file=str(path)))
    return [r[0] for r in rows]


def _columns(path: Path, kind: str, table: str | None, layout: Layout) -> list[str]:
    if kind == "csv":
        return _csv_header(path, layout.encoding)
    if kind == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable Parquet file ({exc})", Location(file=str(path))) from None
    return _duckdb_columns(path, table or "")


def _infer_file(columns: list[str], layout: Layout, kind: str, file_id: str | None, where: str) -> FileDef:
    def names(f: FileDef) -> list[str]:
        return [it.name for it in f.items] if kind == "csv" else f.item_ids

    if file_id:
        try:
            candidates = [layout.file(file_id)]
        except KeyError:
            raise UsageError(
                f"layout {layout.ref} has no file {file_id!r} "
                f"(files: {', '.join(f.id for f in layout.files)})"
            ) from None
    else:
        candidates = [f for f in layout.files if set(names(f)) == set(columns)]
    if len(candidates) == 1 and set(names(candidates[0])) == set(columns):
        return candidates[0]
    target = candidates[0] if file_id else None
    if target:
        missing = [c for c in names(target) if c not in columns]
        extra = [c for c in columns if c not in names(target)]
        raise InputError(
            f"columns do not match {layout.target(target.id)}: missing {missing}, unexpected {extra}",
            Location(file=where),
        )
    raise InputError(
        f"columns match no file of {layout.ref}; name it with --file "
        f"({', '.join(f.id for f in layout.files)})",
        Location(file=where),
    )


def locate(spec: str, layout: Layout, file_id: str | None = None) -> Source:
    """Find the file `spec` (PATH.csv, PATH.parquet or PATH.duckdb:GYOMU.FILE) and which layout file it is."""
    path, table = _split_spec(spec)
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    kind = "duckdb" if table is not None else {".csv": "csv", ".parquet": "parquet"}.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: expected a .csv (standard file), .parquet or PATH.duckdb:GYOMU.FILE")
    columns = _columns(path, kind, table, layout)
    if kind == "duckdb" and not file_id and table:
        file_id = table.split(".", 1)[1]
    fdef = _infer_file(columns, layout, kind, file_id, spec)
    return Source(spec, kind, path, layout, fdef, table, tuple(columns))


# --- typed views -----------------------------------------------------------------------------------------


def _sql_type(item: Item) -> str:
    if item.type == "number":  # BIGINT when integral: DECIMAL(38) is a 128-bit type, much slower to compare
        return f"DECIMAL({18 if item.length <= 18 else 38},{item.scale})" if item.scale else "BIGINT"
    return {"date": "DATE", "flag": "BOOLEAN"}.get(item.type, "VARCHAR")


def canonical_select(file: FileDef, normalised: bool) -> str:
    """Every item in one SQL type per layout type; empty strings read as NULL (CSV cannot tell them apart)."""
    cols = []
    for it in file.items:
        col = f"CAST({quote_ident(it.id)} AS {_sql_type(it)})"
        if it.type in ("string", "code"):
            col = f"NULLIF({col}, '')"
        cols.append(f"{col} AS {quote_ident(it.id)}")
        if normalised and it.type in ("string", "code"):
            cols.append(
                f"NULLIF({quote_ident(NORM_PREFIX + it.id)}, '') AS {quote_ident(NORM_PREFIX + it.id)}"
            )
    return ", ".join(cols)


def _identity(src: Source) -> CompiledFile:
    """The file's identity mapping, compiled: a standard file is read and typed as `midlayout validate`
    reads it."""
    mapping = only_files(identity_mapping(src.layout), {src.file.id})
    return compile_file(mapping, mapping.files[0])


def _raise_first(rejects: pl.DataFrame, src: Source) -> None:
    """A standard file that does not read or type cleanly is an input error naming its first fault."""
    if not rejects.height:
        return
    r = rejects.row(0, named=True)
    if r["stage"] == "map":
        item = src.file.item(r["item"])
        raise InputError(r["message"], Location(file=str(src.path), record=r["record"], field=item.name))
    raise InputError(
        f"{r['rule']}: {r['message']}",
        Location(file=str(src.path), record=r["record"], field=r["field"] or None),
    )


def _normalised(frame: pl.DataFrame, src: Source, norm: Normalise) -> pl.DataFrame:
    extra = [
        norm.expr(pl.col(it.id)).alias(NORM_PREFIX + it.id)
        for it in src.file.items
        if it.type in ("string", "code")
    ]
    return frame.with_columns(extra) if norm.active else frame


def _stage_csv(src: Source, norm: Normalise, target: Path) -> None:
    """Read a standard CSV through its identity mapping (strict decoding, typed as `validate` types it) and
    stage it as typed Parquet."""
    compiled = _identity(src)
    writer = None
    try:
        for batch in read_input(compiled.source, src.path, None, compiled, batch_size=200_000):
            _raise_first(batch.all_rejects, src)
            frame = _normalised(batch.rows.select(src.file.item_ids), src, norm)
            table = frame.to_arrow()
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    finally:
        if writer:
            writer.close()
    if writer is None:
        _empty_frame(src, norm).write_parquet(target)


def _empty_frame(src: Source, norm: Normalise) -> pl.DataFrame:
    frame = pl.DataFrame(schema={it.id: polars_dtype(it) for it in src.file.items})
    return _normalised(frame, src, norm)


def _relation(src: Source) -> str:
    if src.kind == "parquet":
        return f"read_parquet({sql_string(str(src.path))})"
    schema, name = (src.table or "").split(".", 1)
    return f"{quote_ident(_alias(src))}.{quote_ident(schema)}.{quote_ident(name)}"


def _alias(src: Source) -> str:
    return "src_" + str(abs(hash(src.spec)))


def _stage_normalised(con: duckdb.DuckDBPyConnection, src: Source, norm: Normalise, target: Path) -> None:
    """Parquet/DuckDB input through polars text folding, batch by batch, into a staged Parquet file."""
    reader = con.sql(f"SELECT * FROM {_relation(src)}").to_arrow_reader(200_000)
    writer = None
    for rb in reader:
        frame = _normalised(pl.from_arrow(rb), src, norm)  # type: ignore[arg-type]
        table = frame.to_arrow()
        writer = writer or pq.ParquetWriter(target, table.schema)
        writer.write_table(table)
    if writer:
        writer.close()
    else:
        _empty_frame(src, norm).write_parquet(target)


def register(
    con: duckdb.DuckDBPyConnection, src: Source, view: str, work: Path, norm: Normalise = Normalise()
) -> None:
    """Create the temp view `view` over `src`: one column per item in its canonical type (+ folded text)."""
    if src.kind == "duckdb":
        con.execute(
            f"ATTACH IF NOT EXISTS {sql_string(str(src.path))} AS {quote_ident(_alias(src))} (READ_ONLY)"
        )
    relation = _relation(src) if src.kind != "csv" else ""
    if src.kind == "csv" or norm.active:
        staged = work / f"{view}.parquet"
        if src.kind == "csv":
            _stage_csv(src, norm, staged)
        else:
            _stage_normalised(con, src, norm, staged)
        relation = f"read_parquet({sql_string(str(staged))})"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS "
        f"SELECT {canonical_select(src.file, norm.active)} FROM {relation}"
    )


def connect(work: Path, memory_limit: str = "2GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to `work` beyond `memory_limit` (so memory stays bounded)."""
    con = open_duckdb(":memory:")
    con.execute(f"SET memory_limit = {sql_string(parse_memory_limit(memory_limit))}")
    con.execute(f"SET temp_directory = {sql_string(str(work / 'spill'))}")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {sql_number(int(threads))}")
    return con
