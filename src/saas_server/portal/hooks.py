"""What the portal answers for the packages below it (connected in ``wiring.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.events.models import OutboxEvent
from saas_server.portal import notifications
from saas_server.portal.models import PortalStatus, PortalTenant
from saas_server.portal.sync import defer_sync


async def on_event_recorded(session: AsyncSession, event: OutboxEvent) -> None:
    """The tenant's Odoo webhook said a record changed (``odoo.<model>.<event>``): a sync is
    queued in the event's transaction (one waiting at most); it drops the tenant's cached
    Odoo reads before it reads."""
    if not event.type.startswith("odoo.") or event.tenant_id is None:
        return
    portal = await session.get(PortalTenant, event.tenant_id)
    if portal is None or portal.status != PortalStatus.ENABLED.value:
        return
    await defer_sync(session, event.tenant_id)


async def on_marketing_event(session: AsyncSession, event: OutboxEvent) -> None:
    """A scheduled post went out, an SEO audit finished (marketing's events): a notification
    for its client, mailed by a job queued in the event's transaction (one waiting per
    tenant) to the client's portal users whose settings ask for mail."""
    if event.tenant_id is None:
        return
    portal = await session.get(PortalTenant, event.tenant_id)
    if portal is None or portal.status != PortalStatus.ENABLED.value:
        return
    if await notifications.from_marketing_event(session, event.tenant_id, event.type, event.data):
        await notifications.defer_mail(session, event.tenant_id)


async def on_events_recorded(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """:func:`on_event_recorded` and :func:`on_marketing_event` for a batch
    (``events.events_recorded``)."""
    for event in events:
        if event.type.startswith("odoo."):
            await on_event_recorded(session, event)
        elif event.type in notifications.MARKETING_EVENTS:
            await on_marketing_event(session, event)
