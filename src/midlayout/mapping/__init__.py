"""Compile declarative mappings into polars expressions and apply them batch by batch."""
