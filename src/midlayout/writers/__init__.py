"""Writers: where converted rows go. Each writes atomically (temp name, then rename on commit)."""

from __future__ import annotations

from midlayout.writers.base import Output, StreamFileWriter, Writer
from midlayout.writers.registry import available, discover, get_writer

__all__ = ["Output", "StreamFileWriter", "Writer", "available", "discover", "get_writer"]
