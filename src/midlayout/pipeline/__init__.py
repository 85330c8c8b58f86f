"""Run a conversion end to end: read → map → validate → cross-file checks → write → manifest."""
