"""Audit entries (issue 3)."""
