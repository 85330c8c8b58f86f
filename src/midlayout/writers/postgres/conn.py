"""Connections from a DSN or the PG* environment, with passwords kept out of every message."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from midlayout.errors import LoadError, MidlayoutError, TargetError

# A quoted value after a colon in a server message is data from a row; never repeat it.
_QUOTED_VALUE = re.compile(r':\s*"[^"]*"')


def masked(dsn: str) -> dict[str, Any]:
    """The connection parameters of `dsn` without its password (for logs, errors and the manifest)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return {"dsn": "<unparsable>"}
    params.pop("password", None)
    return params


def secrets(dsn: str) -> list[str]:
    """Passwords that must never be printed: the DSN's and $PGPASSWORD."""
    found = [os.environ.get("PGPASSWORD", "")]
    try:
        found.append(str(conninfo_to_dict(dsn).get("password") or ""))
    except psycopg.ProgrammingError:
        pass
    return [s for s in found if s]


def scrub(message: str, dsn: str) -> str:
    """`message` with any password replaced by ***, on one line."""
    for secret in secrets(dsn):
        message = message.replace(secret, "***")
    return " ".join(message.split())


def connect(dsn: str) -> psycopg.Connection[Any]:
    """A connection in a transaction (not autocommit); libpq fills the gaps from PG* variables."""
    try:
        return psycopg.connect(dsn, autocommit=False, application_name="midlayout", client_encoding="utf8")
    except psycopg.Error as exc:
        where = " ".join(f"{k}={v}" for k, v in masked(dsn).items()) or "PG* environment"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TargetError(
            f"cannot connect to PostgreSQL ({scrub(where, dsn)}): {scrub(first, dsn)}"
        ) from None


def describe(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Where a connection goes: host, port, database, user (never the password)."""
    info = conn.info
    return {"host": info.host, "port": info.port, "dbname": info.dbname, "user": info.user}


@contextmanager
def translated(what: str, dsn: str) -> Iterator[None]:
    """Turn psycopg errors into one-line LoadError/TargetError without row values or passwords."""
    try:
        yield
    except MidlayoutError:
        raise
    except psycopg.Error as exc:
        diag = exc.diag
        primary = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        primary = _QUOTED_VALUE.sub("", primary)
        table = ".".join(p for p in (diag.schema_name, diag.table_name) if p)
        where = f" on {table}" if table and table not in what else ""
        state = f" [SQLSTATE {exc.sqlstate}]" if exc.sqlstate else ""
        if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
            message = f"{what}: connection lost: {primary}; nothing was applied"
        else:
            message = f"{what}{where}: {primary}{state}; nothing was applied"
        raise LoadError(scrub(message, dsn)) from None
