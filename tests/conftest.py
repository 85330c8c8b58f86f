"""Shared fixtures: repo paths, hypothesis profiles, and builders for fixed-width test records."""

from __future__ import annotations

import os
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
