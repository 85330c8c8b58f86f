"""Audit a migration: keyed diff, reconciliation certificates, manifest verification and HTML reports."""
