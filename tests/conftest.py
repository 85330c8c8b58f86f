"""Shared fixtures: repo paths, hypothesis profiles, and builders for fixed-width test records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ROOT / "layouts"
MAPPINGS = ROOT / "mappings"
SAMPLES = ROOT / "samples"

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def fixed_record(fields: list[tuple[str | bytes, int]], length: int, encoding: str = "cp932") -> bytes:
    """Render (value, byte width) pairs left-aligned and space-padded, then pad to `length` bytes."""
    out = b""
    for value, width in fields:
        raw = value if isinstance(value, bytes) else value.encode(encoding)
        assert len(raw) <= width, (value, width)
        out += raw + b" " * (width - len(raw))
    assert len(out) <= length
    return out + b" " * (length - len(out))


@pytest.fixture(autouse=True)
def _layouts_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(LAYOUTS))


# --- PostgreSQL: a real server (never a mock); each test gets its own schemas and drops them. ---
PG_DSN = os.environ.get(
    "MIDLAYOUT_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"
)


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    """(dsn, schema prefix): schemas named prefix + anything are dropped after the test."""
    import secrets

    psycopg = pytest.importorskip("psycopg", reason="psycopg not installed (pip install midlayout[postgres])")
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN}: {str(exc).strip().splitlines()[0]}")
    prefix = f"t{secrets.token_hex(4)}_"
    try:
        yield PG_DSN, prefix
    finally:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [prefix]
        ).fetchall()
        for (name,) in rows:
            conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(name)))
        conn.close()
