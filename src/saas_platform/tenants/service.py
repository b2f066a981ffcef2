"""Tenants and memberships (issue 3; being written)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


async def highest_tier(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The highest tier among the active tenants ``user_id`` belongs to (None: no tenant).

    Tiers rank starter < professional < enterprise."""
    return None
