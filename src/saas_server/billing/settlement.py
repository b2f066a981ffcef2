"""Payments that arrive from outside a charge the platform made: a payment provider's webhook
(Stripe's ``payment_intent.succeeded``) or a payment service's event through the integrations.

Charges are made off-session and answered at once (payments.py), so most of these events
confirm what is already recorded: settling is idempotent, an invoice that is not open (paid by
the charge itself, voided) is left as it is.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.invoices import PAYMENT_FAILED, invoice_event, mark_paid
from saas_server.billing.models import Invoice, InvoiceStatus
from saas_server.billing.providers.base import ProviderEvent
from saas_server.billing.renewals import reactivate
from saas_server.core.runtime import Runtime
from saas_server.events import service as events


def invoice_id_in(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def settle_invoice(
    session: AsyncSession,
    runtime: Runtime,
    invoice_id: uuid.UUID,
    *,
    provider_charge_id: str | None = None,
) -> Invoice | None:
    """Mark the open invoice paid and bring its subscription (and a tenant suspended for it)
    back. None for an unknown invoice; an invoice not open is answered unchanged."""
    invoice = await session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None or invoice.status != InvoiceStatus.OPEN.value:
        return invoice
    await mark_paid(session, invoice, None, provider_charge_id=provider_charge_id)
    await reactivate(session, runtime, invoice)
    return invoice


async def record_failed_payment(
    session: AsyncSession, invoice_id: uuid.UUID, details: dict[str, Any]
) -> Invoice | None:
    """A payment of the open invoice failed elsewhere: counted, audited and announced
    (``payment.failed``). Dunning follows the invoice's due date as for a bank transfer."""
    invoice = await session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None or invoice.status != InvoiceStatus.OPEN.value:
        return invoice
    invoice.attempt_count += 1
    await audit.record(
        session,
        action="invoice.payment_failed",
        resource_type="invoice",
        resource_id=invoice.id,
        actor_id=None,
        tenant_id=invoice.tenant_id,
        new_values={"attempt_count": invoice.attempt_count, **details},
    )
    await events.emit(
        session, PAYMENT_FAILED, {**invoice_event(invoice), **details}, tenant_id=invoice.tenant_id
    )
    return invoice


async def on_provider_event(session: AsyncSession, runtime: Runtime, event: ProviderEvent) -> None:
    """Stripe sends every event of its account: only a succeeded PaymentIntent naming one of
    our invoices (the metadata ``charge`` wrote) settles it. A failed one was recorded by the
    charge that caused it, so it changes nothing here."""
    if event.type != "payment_intent.succeeded":
        return
    metadata = event.data.get("metadata")
    invoice_id = invoice_id_in(metadata.get("invoice_id")) if isinstance(metadata, dict) else None
    if invoice_id is None:
        return
    charge_id = event.data.get("id")
    await settle_invoice(
        session, runtime, invoice_id, provider_charge_id=str(charge_id) if charge_id else None
    )
