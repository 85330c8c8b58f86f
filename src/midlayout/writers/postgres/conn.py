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
# Passwords found in the DSN's text itself, so that a DSN libpq cannot parse is masked too:
# the URI's user:password@ (to the last @), its ?password= parameter, and key=value's password=…
# (quoted, or every word up to the next key=, since `password=my secret` is a typo that holds one).
_URI_PASSWORD = re.compile(r"^\s*[A-Za-z][\w+.-]*://[^:@/?#\s]*:(.*)@", re.DOTALL)
_QUERY_PASSWORD = re.compile(r"[?&]password=([^&#\s]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(
    r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s']+(?:\s+[^\s=']+(?=\s|$))*)", re.IGNORECASE
)
MASK = "***"


def _written(dsn: str) -> list[str]:
    """The password(s) as written in `dsn`, whether or not libpq can parse it."""
    found = []
    for pattern in (_URI_PASSWORD, _QUERY_PASSWORD, _KV_PASSWORD):
        for m in pattern.finditer(dsn):
            value = m.group(1)
            found += [value, value.strip("'")]
    return found


def secrets(dsn: str) -> list[str]:
    """Passwords that must never be printed: the DSN's (parsed or as written) and $PGPASSWORD, longest first.

    Each word of a password of several words counts too (libpq quotes the word it trips on), when it is
    long enough not to be an ordinary word of a message."""
    found = [os.environ.get("PGPASSWORD", ""), *_written(dsn)]
    try:
        found.append(str(conninfo_to_dict(dsn).get("password") or ""))
    except psycopg.ProgrammingError:
        pass
    words = [w for secret in found for w in secret.split() if len(w) >= 4]
    return sorted({s for s in [*found, *words] if s}, key=len, reverse=True)


def scrub(message: str, dsn: str) -> str:
    """`message` with any password (and each word of one) replaced by ***, on one line."""
    for secret in secrets(dsn):
        if len(secret) < 4:  # a short password only where it stands alone, not inside every word
            message = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", MASK, message)
        else:
            message = message.replace(secret, MASK)
    return " ".join(message.split())


def masked(dsn: str) -> dict[str, Any]:
    """The connection parameters of `dsn` without its password (for logs, errors and the manifest)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return {"dsn": "<unparsable>"}
    params.pop("password", None)
    return params


def connect(dsn: str) -> psycopg.Connection[Any]:
    """A connection in a transaction (not autocommit); libpq fills the gaps from PG* variables.

    Every message is built from the masked DSN and scrubbed of passwords: libpq repeats a DSN it cannot
    parse (`…in URI: "postgresql://postgres:S3cretPW@[::1/db"`) and quotes the words it trips on.
    """
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise TargetError(f"the PostgreSQL DSN is not valid: {scrub(_first_line(exc), dsn)}") from None
    try:
        return psycopg.connect(dsn, autocommit=False, application_name="midlayout", client_encoding="utf8")
    except psycopg.Error as exc:
        where = " ".join(f"{k}={v}" for k, v in masked(dsn).items()) or "PG* environment"
        raise TargetError(
            f"cannot connect to PostgreSQL ({scrub(where, dsn)}): {scrub(_first_line(exc), dsn)}"
        ) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
