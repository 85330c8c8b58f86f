"""Validate rows against their standard layout (pandera on polars) and across files."""
