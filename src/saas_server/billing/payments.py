"""Charging an open invoice through the configured provider.

A provider that moves money (Stripe) has each charge it made written to the ledger
(``billing_charges``) in a transaction of its own, as soon as it answers: the caller's
transaction (a renewal batch, a request) may still fail to commit after the money moved. A
charge asked again with the same idempotency key finds the ledger's row and settles the
invoice with it, without asking the provider: a re-run never charges twice, also after the
provider has forgotten its own keys (Stripe: 24 hours).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.billing.invoices import PAYMENT_FAILED, billing_account, invoice_event, mark_paid
from saas_server.billing.models import Invoice, PaymentMethod, ProviderCharge, Subscription
from saas_server.billing.payment_methods import default_method
from saas_server.billing.providers import provider_for
from saas_server.billing.providers.base import ChargeResult, ProviderError
from saas_server.core import clock
from saas_server.core.errors import BillingError
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.tenants.models import Tenant

logger = logging.getLogger(__name__)

# Providers whose charges move nothing (a bank transfer an admin marks paid): no ledger.
_UNRECORDED_PROVIDERS = frozenset({"manual"})


async def payment_method_of(
    session: AsyncSession, subscription: Subscription
) -> PaymentMethod | None:
    """The subscription's own payment method, else its tenant's default."""
    if subscription.payment_method_id is not None:
        method = await session.get(PaymentMethod, subscription.payment_method_id)
        if method is not None:
            return method
    return await default_method(session, subscription.tenant_id)


@dataclass(frozen=True)
class Attempt:
    """What a charge came to: ``succeeded``, ``pending`` (a transfer awaited) or ``failed``
    (``details``: the provider's code and reason, and its decline code if any)."""

    status: str
    provider_charge_id: str | None = None
    details: dict[str, Any] | None = None


async def attempt_charge(
    session: AsyncSession,
    runtime: Runtime,
    *,
    tenant: Tenant,
    method: PaymentMethod | None,
    invoice_id: uuid.UUID,
    amount_cents: int,
    currency: str,
    description: str,
    idempotency_key: str,
) -> Attempt:
    """Ask the provider for ``amount_cents`` (the ledger first: a key already charged is
    answered from it). Records nothing on the invoice: the caller does (one by one, or a
    renewal batch in bulk). A provider's refusal is an ``Attempt`` that failed."""
    provider = provider_for(runtime.settings)
    recorded = provider.name not in _UNRECORDED_PROVIDERS
    if recorded:
        made = await _charge_made(session, idempotency_key, amount_cents, currency)
        if made is not None:
            return made
    account = await billing_account(session, tenant.id)
    try:
        customer = await provider.ensure_customer(
            account_ref=str(tenant.id),
            email=tenant.contact_email or "",
            name=tenant.name,
            customer_id=account.customer_id if account.provider == provider.name else None,
        )
        if (account.provider, account.customer_id) != (provider.name, customer):
            account.provider, account.customer_id = provider.name, customer
        result = await provider.charge(
            customer_id=customer,
            payment_method_id=method.provider_id if method else None,
            amount_cents=amount_cents,
            currency=currency.lower(),
            description=description,
            idempotency_key=idempotency_key,
            metadata={"invoice_id": str(invoice_id), "tenant_id": str(tenant.id)},
        )
    except ProviderError as exc:
        details = {"provider_code": exc.code, "reason": exc.reason}
        if exc.decline_code:
            details["decline_code"] = exc.decline_code
        return Attempt("failed", details=details)
    if recorded:
        await _record_charge(
            runtime, idempotency_key, provider.name, tenant.id, amount_cents, currency, result
        )
    return Attempt(result.status, result.provider_charge_id)


async def charge_invoice(
    session: AsyncSession,
    runtime: Runtime,
    invoice: Invoice,
    *,
    idempotency_key: str,
    raise_on_decline: bool = True,
    description: str | None = None,
) -> str:
    """Charge ``invoice``'s total: ``succeeded`` (paid now), ``pending`` (the manual
    provider: an admin marks it paid) or ``failed``. A decline emits ``payment.failed`` and,
    with ``raise_on_decline`` (API calls), raises 402 ``BILLING_ERROR`` with the provider's
    code and reason, undoing the request; renewals record it and dun instead.

    ``idempotency_key`` names the charge: the same key is never charged twice (the ledger,
    then the provider's own keys). ``description`` (the invoice's number by default) is
    what the provider shows."""
    if invoice.total_cents <= 0:
        await mark_paid(session, invoice, None)  # nothing to collect (all credited)
        return "succeeded"
    subscription = (
        await session.get(Subscription, invoice.subscription_id)
        if invoice.subscription_id
        else None
    )
    method = (
        await payment_method_of(session, subscription)
        if subscription
        else await default_method(session, invoice.tenant_id)
    )
    tenant = await session.get(Tenant, invoice.tenant_id)
    assert tenant is not None
    attempt = await attempt_charge(
        session,
        runtime,
        tenant=tenant,
        method=method,
        invoice_id=invoice.id,
        amount_cents=invoice.total_cents,
        currency=invoice.currency,
        description=description or f"Invoice {invoice.number}",
        idempotency_key=idempotency_key,
    )
    invoice.attempt_count += 1
    if attempt.status == "failed":
        details = attempt.details or {}
        await events.emit(
            session,
            PAYMENT_FAILED,
            {**invoice_event(invoice), **details},
            tenant_id=invoice.tenant_id,
        )
        if raise_on_decline:
            raise BillingError(f"The payment was refused: {details.get('reason')}", details=details)
        return "failed"
    invoice.provider_charge_id = attempt.provider_charge_id
    if attempt.status == "succeeded":
        await mark_paid(session, invoice, None, provider_charge_id=attempt.provider_charge_id)
    # Pending (a transfer): flushed with the caller's next change to it (renewals set when
    # dunning starts), one UPDATE instead of two.
    return attempt.status


async def _charge_made(
    session: AsyncSession, idempotency_key: str, amount_cents: int, currency: str
) -> Attempt | None:
    """The charge the ledger holds under ``idempotency_key`` for this amount, if any."""
    row = (
        await session.execute(
            select(ProviderCharge).where(ProviderCharge.idempotency_key == idempotency_key)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if (row.amount_cents, row.currency) != (amount_cents, currency.upper()):
        # Another amount under the same key: the provider refuses the key with other
        # parameters, which ends as a failed charge (dunning), never a second one.
        logger.warning(
            "billing: charge %s was made for %s %s, now asked for %s %s",
            idempotency_key,
            row.amount_cents,
            row.currency,
            amount_cents,
            currency,
        )
        return None
    status = "succeeded" if row.status == "succeeded" else "pending"
    return Attempt(status, row.provider_charge_id)


async def _record_charge(
    runtime: Runtime,
    idempotency_key: str,
    provider: str,
    tenant_id: uuid.UUID,
    amount_cents: int,
    currency: str,
    result: ChargeResult,
) -> None:
    """Into the ledger, committed at once (the caller's transaction may yet roll back)."""
    async with runtime.db.transaction() as ledger:
        await ledger.execute(
            pg_insert(ProviderCharge)
            .values(
                idempotency_key=idempotency_key,
                provider=provider,
                provider_charge_id=result.provider_charge_id,
                status=result.status,
                amount_cents=amount_cents,
                currency=currency.upper(),
                tenant_id=tenant_id,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
