"""PostgreSQL DDL generated from a layout: types, NOT NULL, primary key, foreign keys, comments.

Every identifier is quoted with psycopg.sql.Identifier; no name is ever pasted into SQL text.
"""

from __future__ import annotations

from psycopg import sql

from midlayout.layout.model import FileDef, Item

LOADS_TABLE = "midlayout_loads"


def pg_type(item: Item) -> sql.Composable:
    """The column type of an item.

    A `bytes` 桁数 bounds the characters too (every character takes at least one byte), so varchar(n) holds
    any valid value; numbers get the smallest integer type that holds their digits.
    """
    if item.type in ("string", "code") and item.unit == "chars":
        return sql.SQL("text")  # varchar counts an IVS selector as a character; the 桁数 rule does not
    if item.type in ("string", "code"):
        return sql.SQL(f"varchar({int(item.length)})")
    if item.type == "date":
        return sql.SQL("date")
    if item.type == "flag":
        return sql.SQL("boolean")
    if item.scale:
        return sql.SQL(f"numeric({int(item.length)},{int(item.scale)})")
    if item.length <= 9:
        return sql.SQL("integer")
    if item.length <= 18:
        return sql.SQL("bigint")
    return sql.SQL(f"numeric({int(item.length)})")


def columns(file: FileDef) -> sql.Composed:
    """The quoted column list of a file, in layout order."""
    return sql.SQL(", ").join(sql.Identifier(i) for i in file.item_ids)


def create_table(schema: str, table: str, file: FileDef) -> sql.Composed:
    """CREATE TABLE with types, NOT NULL for required items and the layout key as primary key."""
    cols = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(it.id), pg_type(it), sql.SQL(" NOT NULL" if it.required else "")
        )
        for it in file.items
    ]
    pkey = sql.SQL("CONSTRAINT {} PRIMARY KEY ({})").format(
        sql.Identifier(f"{table}_pkey"), sql.SQL(", ").join(sql.Identifier(k) for k in file.key)
    )
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join([*cols, pkey])
    )


def comments(schema: str, table: str, file: FileDef) -> list[sql.Composed]:
    """COMMENT ON the table (ファイル名) and each column (項目名称)."""
    out: list[sql.Composed] = [
        sql.SQL("COMMENT ON TABLE {}.{} IS {}").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Literal(file.name)
        )
    ]
    for it in file.items:
        out.append(
            sql.SQL("COMMENT ON COLUMN {}.{}.{} IS {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(it.id), sql.Literal(it.name)
            )
        )
    return out


def foreign_keys(schema: str, table: str, file: FileDef) -> list[tuple[str, sql.Composed]]:
    """(referenced file, ADD CONSTRAINT) for each reference to another file of the same 業務.

    Deferred to commit: the files of a 業務 may refer to each other in a cycle (世帯 ↔ 住民).
    """
    out = []
    for it in file.items:
        ref = it.references
        if ref is None or ":" in ref.file:
            continue
        stmt = sql.SQL(
            "ALTER TABLE {s}.{t} ADD CONSTRAINT {c} FOREIGN KEY ({col}) REFERENCES {s}.{rt} ({rc}) "
            "DEFERRABLE INITIALLY DEFERRED"
        ).format(
            s=sql.Identifier(schema),
            t=sql.Identifier(table),
            c=sql.Identifier(f"{table}_{it.id}_fkey"),
            col=sql.Identifier(it.id),
            rt=sql.Identifier(ref.file),
            rc=sql.Identifier(ref.item),
        )
        out.append((ref.file, stmt))
    return out


def create_staging(stage: str, file: FileDef) -> sql.Composed:
    """A temporary table of the same columns, without constraints, dropped at the end of the transaction."""
    cols = [sql.SQL("{} {}").format(sql.Identifier(it.id), pg_type(it)) for it in file.items]
    return sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
        sql.Identifier(stage), sql.SQL(", ").join(cols)
    )


def insert_from(schema: str, table: str, stage: str, file: FileDef, upsert: bool) -> sql.Composed:
    """INSERT … SELECT from the staging table; with `upsert`, ON CONFLICT on the key updates the other items."""
    stmt = sql.SQL("INSERT INTO {}.{} ({}) SELECT {} FROM {}").format(
        sql.Identifier(schema), sql.Identifier(table), columns(file), columns(file), sql.Identifier(stage)
    )
    if not upsert:
        return stmt
    key = sql.SQL(", ").join(sql.Identifier(k) for k in file.key)
    rest = [i for i in file.item_ids if i not in file.key]
    if not rest:
        return sql.SQL("{} ON CONFLICT ({}) DO NOTHING").format(stmt, key)
    sets = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in rest
    )
    return sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(stmt, key, sets)


def loads_table(meta: str) -> sql.Composed:
    """The bookkeeping table: one row per (load id, target table) applied."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {}.{} (load_id text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL, "
        "layout text NOT NULL, file text NOT NULL, mode text NOT NULL, rows bigint NOT NULL, tool text NOT NULL, "
        "loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (load_id, schema_name, table_name))"
    ).format(sql.Identifier(meta), sql.Identifier(LOADS_TABLE))
