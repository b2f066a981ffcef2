"""Ids in paths: every resource is named by a UUID."""

from __future__ import annotations

import uuid


def parse_id(raw: str, not_found: type[Exception]) -> uuid.UUID:
    """Ids that are not UUIDs name nothing: 404, like any other unknown id."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None
