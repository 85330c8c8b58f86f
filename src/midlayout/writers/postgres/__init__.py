"""PostgreSQL writer (psycopg 3): `PostgresWriter` is cheap to import; the load module pulls in psycopg."""

from __future__ import annotations

from midlayout.writers.postgres.writer import MODES, PostgresWriter

__all__ = ["MODES", "PostgresWriter"]
