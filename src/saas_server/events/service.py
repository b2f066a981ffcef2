"""Domain events into the outbox, in the caller's transaction (see models.OutboxEvent)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.core.hooks import Hook
from saas_server.events.models import OutboxEvent

# The event types of conventions.md ("Webhooks the platform sends").
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
SUBSCRIPTION_CREATED = "subscription.created"
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
INVOICE_CREATED = "invoice.created"
INVOICE_PAID = "invoice.paid"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
# Security monitoring (security/): a threat filed by the detection job (platform-wide, so
# platform admins' endpoints only), a scan of a tenant finished (that tenant's managers).
SECURITY_THREAT_DETECTED = "security.threat_detected"
SECURITY_SCAN_COMPLETED = "security.scan_completed"
# A step of a long operation started or finished (events/progress.py, docs/events.md).
INSTANCE_PROGRESS = "instance.progress"
BACKUP_PROGRESS = "backup.progress"
RESTORE_PROGRESS = "restore.progress"
# A tenant's people (issue 18: "members" on the stream), for the tenant's owners and admins.
MEMBER_ADDED = "member.added"
MEMBER_ROLE_CHANGED = "member.role_changed"
MEMBER_REMOVED = "member.removed"
INVITATION_CREATED = "invitation.created"
INVITATION_ACCEPTED = "invitation.accepted"
INVITATION_REVOKED = "invitation.revoked"

# What a webhook endpoint may subscribe to (besides "*").
EVENT_TYPES: tuple[str, ...] = (
    TENANT_CREATED,
    TENANT_READY,
    TENANT_UPDATED,
    TENANT_DELETED,
    TENANT_PROVISIONING_FAILED,
    INSTANCE_STARTED,
    INSTANCE_STOPPED,
    BACKUP_COMPLETED,
    BACKUP_FAILED,
    RESTORE_COMPLETED,
    RESTORE_FAILED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_UPDATED,
    SUBSCRIPTION_CANCELED,
    INVOICE_CREATED,
    INVOICE_PAID,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    USER_CREATED,
    USER_UPDATED,
    USER_DELETED,
    SECURITY_THREAT_DETECTED,
    SECURITY_SCAN_COMPLETED,
    INSTANCE_PROGRESS,
    BACKUP_PROGRESS,
    RESTORE_PROGRESS,
    MEMBER_ADDED,
    MEMBER_ROLE_CHANGED,
    MEMBER_REMOVED,
    INVITATION_CREATED,
    INVITATION_ACCEPTED,
    INVITATION_REVOKED,
)

# Fired in the transaction that records an event: the webhooks package defers its fan-out
# there, so the event and the job that relays it commit together (or neither does).
event_recorded: Hook[[AsyncSession, OutboxEvent]] = Hook("events.event_recorded")
# The same for every event recorded, once per call with all of them (emit_many's batch; one
# event for emit): a handler connected here works set-based. Every event reaches every
# handler of either hook.
events_recorded: Hook[[AsyncSession, Sequence[OutboxEvent]]] = Hook("events.events_recorded")


@dataclass(frozen=True)
class NewEvent:
    """One event for :func:`emit_many` (the arguments of :func:`emit`)."""

    type: str
    data: dict[str, Any]
    tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


async def emit(
    session: AsyncSession,
    type_: str,
    data: dict[str, Any],
    *,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> OutboxEvent:
    [event] = await emit_many(
        session, [NewEvent(type=type_, data=data, tenant_id=tenant_id, user_id=user_id)]
    )
    return event


async def emit_many(session: AsyncSession, new: Sequence[NewEvent]) -> list[OutboxEvent]:
    """Record ``new`` in the outbox in this order (their ``seq`` follows it), in one flush,
    then tell the handlers: each of ``event_recorded`` per event, each of
    ``events_recorded`` once with them all."""
    if not new:
        return []
    now = clock.now()
    events = [
        OutboxEvent(
            id=uuid.uuid4(),
            type=item.type,
            tenant_id=item.tenant_id,
            user_id=item.user_id,
            data=item.data,
            occurred_at=now,
        )
        for item in new
    ]
    session.add_all(events)
    await session.flush()
    for event in events:
        await event_recorded.fire(session, event)
    await events_recorded.fire(session, events)
    return events


async def events_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[OutboxEvent]:
    result = await session.execute(
        select(OutboxEvent).where(OutboxEvent.tenant_id == tenant_id).order_by(OutboxEvent.seq)
    )
    return list(result.scalars())
