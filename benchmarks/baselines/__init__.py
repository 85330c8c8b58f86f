"""Baseline scripts the convert benchmark runs side by side with `midlayout convert` (one process each)."""
