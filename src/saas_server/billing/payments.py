"""Charging an open invoice through the configured provider."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.billing.invoices import PAYMENT_FAILED, billing_account, invoice_event, mark_paid
from saas_server.billing.models import Invoice, PaymentMethod, Subscription
from saas_server.billing.payment_methods import default_method
from saas_server.billing.providers import provider_for
from saas_server.billing.providers.base import ProviderError
from saas_server.core.errors import BillingError
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.tenants.models import Tenant


async def payment_method_of(
    session: AsyncSession, subscription: Subscription
) -> PaymentMethod | None:
    """The subscription's own payment method, else its tenant's default."""
    if subscription.payment_method_id is not None:
        method = await session.get(PaymentMethod, subscription.payment_method_id)
        if method is not None:
            return method
    return await default_method(session, subscription.tenant_id)


async def charge_invoice(
    session: AsyncSession,
    runtime: Runtime,
    invoice: Invoice,
    *,
    idempotency_key: str,
    raise_on_decline: bool = True,
) -> str:
    """Charge ``invoice``'s total: ``succeeded`` (paid now), ``pending`` (the manual
    provider: an admin marks it paid) or ``failed``. A decline emits ``payment.failed`` and,
    with ``raise_on_decline`` (API calls), raises 402 ``BILLING_ERROR`` with the provider's
    code and reason, undoing the request; renewals record it and dun instead."""
    if invoice.total_cents <= 0:
        await mark_paid(session, invoice, None)  # nothing to collect (all credited)
        return "succeeded"
    provider = provider_for(runtime.settings)
    account = await billing_account(session, invoice.tenant_id)
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
    try:
        customer = await provider.ensure_customer(
            account_ref=str(invoice.tenant_id),
            email=tenant.contact_email or "",
            name=tenant.name,
            customer_id=account.customer_id if account.provider == provider.name else None,
        )
        account.provider, account.customer_id = provider.name, customer
        result = await provider.charge(
            customer_id=customer,
            payment_method_id=method.provider_id if method else None,
            amount_cents=invoice.total_cents,
            currency=invoice.currency.lower(),
            description=f"Invoice {invoice.number}",
            idempotency_key=idempotency_key,
            metadata={"invoice_id": str(invoice.id), "tenant_id": str(invoice.tenant_id)},
        )
    except ProviderError as exc:
        invoice.attempt_count += 1
        details = {"provider_code": exc.code, "reason": exc.reason}
        if exc.decline_code:
            details["decline_code"] = exc.decline_code
        await events.emit(
            session,
            PAYMENT_FAILED,
            {**invoice_event(invoice), **details},
            tenant_id=invoice.tenant_id,
        )
        if raise_on_decline:
            raise BillingError(f"The payment was refused: {exc.reason}", details=details) from exc
        return "failed"
    invoice.attempt_count += 1
    invoice.provider_charge_id = result.provider_charge_id
    if result.status == "succeeded":
        await mark_paid(session, invoice, None, provider_charge_id=result.provider_charge_id)
    # Pending (a transfer): flushed with the caller's next change to it (renewals set when
    # dunning starts), one UPDATE instead of two.
    return result.status
