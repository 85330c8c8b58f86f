"""midlayout: migrate municipal data through the 中間標準レイアウト."""

__version__ = "0.1.0"
