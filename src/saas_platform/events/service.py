"""Domain events into the outbox, in the caller's transaction (see models.OutboxEvent)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_platform.core import clock
from saas_platform.events.models import OutboxEvent

# The event types of conventions.md ("Webhooks the platform sends") emitted so far.
TENANT_CREATED = "tenant.created"
TENANT_READY = "tenant.ready"
TENANT_UPDATED = "tenant.updated"
TENANT_DELETED = "tenant.deleted"
TENANT_PROVISIONING_FAILED = "tenant.provisioning_failed"
INSTANCE_STARTED = "instance.started"
INSTANCE_STOPPED = "instance.stopped"
BACKUP_COMPLETED = "backup.completed"
BACKUP_FAILED = "backup.failed"
RESTORE_COMPLETED = "restore.completed"
RESTORE_FAILED = "restore.failed"


async def emit(
    session: AsyncSession, type_: str, data: dict[str, Any], *, tenant_id: uuid.UUID | None = None
) -> OutboxEvent:
    event = OutboxEvent(type=type_, tenant_id=tenant_id, data=data, occurred_at=clock.now())
    session.add(event)
    await session.flush()
    return event


async def events_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[OutboxEvent]:
    result = await session.execute(
        select(OutboxEvent).where(OutboxEvent.tenant_id == tenant_id).order_by(OutboxEvent.seq)
    )
    return list(result.scalars())
