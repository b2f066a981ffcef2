"""Events from payment providers, applied once each.

A verified event (``billing/providers``' ``verify_webhook``) is recorded by provider and
event id and handed to :data:`provider_event_received` in the same transaction: the billing
engine's handler settles or fails the invoice there. A delivery whose receipt exists is
acknowledged and not applied again (providers deliver at least once, and replay); a handler
that fails rolls the receipt back with its effect, so the provider's next attempt applies it.
"""

from __future__ import annotations

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.billing.provider_event_models import ProviderEventReceipt
from saas_server.billing.providers.base import ProviderEvent
from saas_server.core import clock
from saas_server.core.hooks import Hook
from saas_server.core.runtime import Runtime

logger = logging.getLogger(__name__)

# Handlers ``(session, runtime, event) -> None`` run in the receipt's transaction (the
# engine's settlement of invoices on ``payment_intent.succeeded``: billing/settlement.py).
provider_event_received: Hook[[AsyncSession, Runtime, ProviderEvent]] = Hook(
    "provider_event_received"
)


async def receive_provider_event(
    session: AsyncSession, runtime: Runtime, provider: str, event: ProviderEvent
) -> bool:
    """Apply ``event`` unless it was applied before; True when applied now. Never commits.

    The insert takes the receipt's key first: a concurrent delivery of the same event waits
    on it, then finds it taken (or, if this transaction rolled back, takes it itself).
    """
    inserted = await session.execute(
        insert(ProviderEventReceipt)
        .values(
            provider=provider, event_id=event.id, type=event.type[:255], received_at=clock.now()
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(ProviderEventReceipt.event_id)
    )
    if inserted.scalar_one_or_none() is None:
        logger.info("%s event %s (%s) was already received", provider, event.id, event.type)
        return False
    await provider_event_received.fire(session, runtime, event)
    logger.info("%s event %s (%s) received", provider, event.id, event.type)
    return True
