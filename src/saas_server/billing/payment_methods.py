"""Payment methods: attached through the provider, one default per billing account."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.invoices import billing_account
from saas_server.billing.models import Invoice, InvoiceStatus, PaymentMethod, Subscription
from saas_server.billing.providers import provider_for
from saas_server.billing.providers.base import ProviderError
from saas_server.core import clock
from saas_server.core.errors import BillingError, NotFound
from saas_server.core.runtime import Runtime
from saas_server.tenants.base import TenantAccess


class PaymentMethodNotFound(NotFound):
    code = "PAYMENT_METHOD_NOT_FOUND"
    message = "Payment method not found"


async def add_payment_method(
    session: AsyncSession,
    runtime: Runtime,
    access: TenantAccess,
    source: dict[str, Any],
    *,
    make_default: bool,
) -> PaymentMethod:
    access.require_owner()
    provider = provider_for(runtime.settings)
    account = await billing_account(session, access.tenant.id)
    try:
        customer = await provider.ensure_customer(
            account_ref=str(access.tenant.id),
            email=access.tenant.contact_email or access.actor.email,
            name=access.tenant.name,
            customer_id=account.customer_id if account.provider == provider.name else None,
        )
        details = await provider.attach_payment_method(customer_id=customer, source=source)
    except ProviderError as exc:
        raise BillingError(
            f"The payment method was refused: {exc.reason}",
            details={"provider_code": exc.code, "reason": exc.reason},
        ) from exc
    account.provider, account.customer_id = provider.name, customer
    existing = (
        await session.execute(
            select(PaymentMethod.id).where(PaymentMethod.tenant_id == access.tenant.id)
        )
    ).first()
    default = make_default or existing is None
    if default:
        await session.execute(
            update(PaymentMethod)
            .where(PaymentMethod.tenant_id == access.tenant.id)
            .values(is_default=False)
        )
    method = PaymentMethod(
        tenant_id=access.tenant.id,
        provider=provider.name,
        provider_id=details.provider_id,
        kind=details.kind,
        brand=details.brand,
        last4=details.last4,
        exp_month=details.exp_month,
        exp_year=details.exp_year,
        is_default=default,
    )
    session.add(method)
    await session.flush()
    if default and method.kind != "bank_transfer":
        # A new default card is the owner's answer to a failed payment: its open invoices in
        # dunning (suspension stops the retries) are charged again on the next renewals run.
        # (A bank transfer is not charged: an admin marks it paid when it arrives.)
        await session.execute(
            update(Invoice)
            .where(
                Invoice.tenant_id == access.tenant.id,
                Invoice.status == InvoiceStatus.OPEN.value,
                Invoice.dunning_started_at.is_not(None),
            )
            .values(next_attempt_at=clock.now())
        )
    await audit.record(
        session,
        action="payment_method.created",
        resource_type="payment_method",
        resource_id=method.id,
        actor_id=access.actor.id,
        tenant_id=access.tenant.id,
        new_values={"type": method.kind, "last4": method.last4, "is_default": default},
    )
    return method


async def remove_payment_method(
    session: AsyncSession, runtime: Runtime, access: TenantAccess, method: PaymentMethod
) -> None:
    access.require_owner()
    try:
        await provider_for(runtime.settings).detach_payment_method(provider_id=method.provider_id)
    except ProviderError as exc:
        raise BillingError(
            f"The provider refused: {exc.reason}",
            details={"provider_code": exc.code, "reason": exc.reason},
        ) from exc
    await session.execute(
        update(Subscription)
        .where(Subscription.payment_method_id == method.id)
        .values(payment_method_id=None)
    )
    was_default = method.is_default
    await session.delete(method)
    await session.flush()
    if was_default:  # the newest remaining one becomes the default
        newest = (
            await session.execute(
                select(PaymentMethod)
                .where(PaymentMethod.tenant_id == access.tenant.id)
                .order_by(PaymentMethod.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if newest is not None:
            newest.is_default = True
    await audit.record(
        session,
        action="payment_method.deleted",
        resource_type="payment_method",
        resource_id=method.id,
        actor_id=access.actor.id,
        tenant_id=access.tenant.id,
        old_values={"type": method.kind, "last4": method.last4},
    )


# session.info key: {tenant_id: its default method or None}, read once for a batch of
# renewals, which change no payment method.
DEFAULT_METHODS = "billing.default_methods"


async def default_method(session: AsyncSession, tenant_id: uuid.UUID) -> PaymentMethod | None:
    known = session.info.get(DEFAULT_METHODS)
    if known is not None and tenant_id in known:
        return known[tenant_id]  # read for a whole batch of renewals (renewals.py)
    return (
        await session.execute(
            select(PaymentMethod).where(
                PaymentMethod.tenant_id == tenant_id, PaymentMethod.is_default.is_(True)
            )
        )
    ).scalar_one_or_none()
