"""Audit trail (interface; implemented in this package). See issue 3."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.core.client import ClientInfo


async def record(
    session: AsyncSession,
    *,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    old_values: dict[str, Any] | None = None,
    new_values: dict[str, Any] | None = None,
    client: ClientInfo | None = None,
) -> None:
    """Append one audit entry in ``session``'s transaction (the change and its entry commit
    together). Secrets and password hashes are never written."""
    return None
