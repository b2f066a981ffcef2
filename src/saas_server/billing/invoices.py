"""Invoices: amounts, proration, drafting, gapless numbering, payment, void, credit notes.

All arithmetic is on integers in minor units. The rounding rules (docs/billing.md):
- a prorated line is ``amount * remaining / period`` (seconds), rounded half up, each line
  on its own: ``(2 * amount * remaining + period) // (2 * period)``; credits are the
  negative of the same computation;
- tax is ``subtotal * rate_basis_points / 10000``, rounded half up once per invoice (a
  negative subtotal, a credit note, rounds its magnitude the same way).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.lifecycle import INVOICE, InvoiceAction
from saas_server.billing.models import (
    BillingAccount,
    BillingCycle,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Plan,
    Subscription,
)
from saas_server.core import clock
from saas_server.core.errors import Conflict, NotFound
from saas_server.core.settings import Settings
from saas_server.events import service as events
from saas_server.tenants.models import Tenant

INVOICE_CREATED = "invoice.created"
INVOICE_PAID = "invoice.paid"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"


class InvoiceNotFound(NotFound):
    code = "INVOICE_NOT_FOUND"
    message = "Invoice not found"


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_amount_cents: int
    amount_cents: int
    proration: bool = False
    period_start: datetime | None = None
    period_end: datetime | None = None


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, on integers only."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    n, d = abs(numerator), abs(denominator)
    return sign * ((2 * n + d) // (2 * d))


def extra_seats(plan: Plan, max_users: int) -> int:
    return max(0, max_users - plan.seats_included)


def seat_price(plan: Plan, cycle: str) -> int:
    """An extra seat's price for one period of ``cycle`` (the plan's is per month)."""
    months = 12 if cycle == BillingCycle.ANNUALLY.value else 1
    return plan.extra_seat_amount_cents * months


def base_price(plan: Plan, cycle: str) -> int:
    if cycle == BillingCycle.ANNUALLY.value:
        return plan.annual_amount_cents
    return plan.monthly_amount_cents


def period_amount(plan: Plan, cycle: str, max_users: int) -> int:
    """What one whole period costs: the plan's price plus the seats beyond those included."""
    return base_price(plan, cycle) + extra_seats(plan, max_users) * seat_price(plan, cycle)


def period_lines(
    plan: Plan, cycle: str, max_users: int, start: datetime, end: datetime
) -> list[Line]:
    lines = [
        Line(
            f"{plan.name} plan ({cycle}), {start:%Y-%m-%d} to {end:%Y-%m-%d}",
            1,
            base_price(plan, cycle),
            base_price(plan, cycle),
            period_start=start,
            period_end=end,
        )
    ]
    seats = extra_seats(plan, max_users)
    if seats:
        unit = seat_price(plan, cycle)
        lines.append(
            Line(
                f"Extra seats beyond the {plan.seats_included} included",
                seats,
                unit,
                seats * unit,
                period_start=start,
                period_end=end,
            )
        )
    return lines


def last_period_lines(
    plan: Plan, cycle: str, max_users: int, start: datetime, end: datetime, whole_end: datetime
) -> list[Line]:
    """A last period cut short at ``end`` (a scheduled end) instead of ``whole_end``: one
    line, the whole period's amount prorated to the part it runs."""
    amount = prorate(period_amount(plan, cycle, max_users), end - start, whole_end - start)
    return [
        Line(
            f"{plan.name} plan ({cycle}, {max_users} users), {start:%Y-%m-%d} to "
            f"{end:%Y-%m-%d}, the last period (ends early)",
            1,
            amount,
            amount,
            proration=True,
            period_start=start,
            period_end=end,
        )
    ]


def prorate(amount_cents: int, remaining: timedelta, period: timedelta) -> int:
    """The part of ``amount_cents`` for ``remaining`` of ``period`` (whole seconds)."""
    seconds = int(period.total_seconds())
    left = max(0, min(int(remaining.total_seconds()), seconds))
    return round_half_up(amount_cents * left, seconds) if seconds else 0


def proration_lines(
    old: tuple[Plan, str, int],
    new: tuple[Plan, str, int],
    at: datetime,
    period_start: datetime,
    period_end: datetime,
) -> list[Line]:
    """Stripe's ``create_prorations``: a credit for the unused rest of the old price and a
    charge for the rest of the period at the new one."""
    remaining, period = period_end - at, period_end - period_start
    old_amount, new_amount = period_amount(*old), period_amount(*new)
    credit = prorate(old_amount, remaining, period)
    charge = prorate(new_amount, remaining, period)
    return [
        Line(
            f"Unused time on {old[0].name} ({old[2]} users) after {at:%Y-%m-%d}",
            1,
            -credit,
            -credit,
            proration=True,
            period_start=at,
            period_end=period_end,
        ),
        Line(
            f"Remaining time on {new[0].name} ({new[2]} users) after {at:%Y-%m-%d}",
            1,
            charge,
            charge,
            proration=True,
            period_start=at,
            period_end=period_end,
        ),
    ]


async def billing_account(session: AsyncSession, tenant_id: uuid.UUID) -> BillingAccount:
    account = await session.get(BillingAccount, tenant_id)
    if account is None:
        account = BillingAccount(tenant_id=tenant_id)
        session.add(account)
        await session.flush()
    return account


def tax_rate(settings: Settings, country: str | None) -> int:
    return settings.billing_tax_rates.get((country or "").upper(), 0)


def seller_of(settings: Settings) -> dict[str, Any]:
    return {
        "name": settings.billing_seller_name,
        "address": settings.billing_seller_address,
        "tax_id": settings.billing_seller_tax_id,
    }


async def draft_invoice(
    session: AsyncSession,
    settings: Settings,
    tenant: Tenant,
    subscription: Subscription | None,
    lines: list[Line],
    *,
    currency: str,
    reason: str,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    credits: Invoice | None = None,
    invoice_id: uuid.UUID | None = None,
) -> Invoice:
    """A draft of ``lines``; ``invoice_id`` when the caller names it."""
    account = await billing_account(session, tenant.id)
    invoice, rows = build_invoice(
        settings,
        tenant,
        account,
        subscription,
        lines,
        currency=currency,
        reason=reason,
        kind=kind,
        credits=credits,
        invoice_id=invoice_id,
    )
    session.add(invoice)
    await session.flush()
    session.add_all(rows)
    await session.flush()
    return invoice


def build_invoice(
    settings: Settings,
    tenant: Tenant,
    account: BillingAccount,
    subscription: Subscription | None,
    lines: list[Line],
    *,
    currency: str,
    reason: str,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    credits: Invoice | None = None,
    invoice_id: uuid.UUID | None = None,
) -> tuple[Invoice, list[InvoiceLine]]:
    """A draft invoice and its lines, not yet added to a session (a renewal batch adds
    them all at once)."""
    rate = tax_rate(settings, account.country)
    subtotal = sum(line.amount_cents for line in lines)
    tax = round_half_up(subtotal * rate, 10_000)
    invoice = Invoice(
        id=invoice_id or uuid.uuid4(),
        tenant_id=tenant.id,
        subscription_id=subscription.id if subscription else None,
        kind=kind.value,
        credits_invoice_id=credits.id if credits else None,
        status=InvoiceStatus.DRAFT.value,
        reason=reason,
        currency=currency,
        subtotal_cents=subtotal,
        tax_rate_basis_points=rate,
        tax_cents=tax,
        total_cents=subtotal + tax,
        amount_paid_cents=0,
        seller=seller_of(settings),
        buyer={
            "name": tenant.name,
            "address": tenant.billing_address,
            "email": tenant.contact_email,
            "country": account.country,
            "tax_id": account.tax_id,
        },
        period_start=min((ln.period_start for ln in lines if ln.period_start), default=None),
        period_end=max((ln.period_end for ln in lines if ln.period_end), default=None),
        attempt_count=0,
    )
    rows = [
        InvoiceLine(
            id=uuid.uuid4(),
            invoice_id=invoice.id,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_amount_cents=line.unit_amount_cents,
            amount_cents=line.amount_cents,
            proration=line.proration,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for position, line in enumerate(lines, start=1)
    ]
    return invoice, rows


async def next_number(session: AsyncSession, settings: Settings, year: int) -> str:
    """The next number of the year, taken under the sequence row's lock: a concurrent
    finalisation waits, and one rolled back gives its number back (no gaps)."""
    prefix = f"{settings.billing_invoice_prefix}-{year}"
    last = (
        await session.execute(
            text(
                "INSERT INTO invoice_number_sequences (prefix, last) VALUES (:prefix, 1) "
                "ON CONFLICT (prefix) DO UPDATE SET last = invoice_number_sequences.last + 1 "
                "RETURNING last"
            ),
            {"prefix": prefix},
        )
    ).scalar_one()
    return f"{prefix}-{last:06d}"


async def next_numbers(
    session: AsyncSession, settings: Settings, year: int, count: int
) -> list[str]:
    """``count`` numbers of the year at once, in order, under the sequence row's lock (as
    :func:`next_number`): a batch that rolls back gives them all back."""
    prefix = f"{settings.billing_invoice_prefix}-{year}"
    last = (
        await session.execute(
            text(
                "INSERT INTO invoice_number_sequences (prefix, last) VALUES (:prefix, :count) "
                "ON CONFLICT (prefix) DO UPDATE SET last = invoice_number_sequences.last + "
                ":count RETURNING last"
            ),
            {"prefix": prefix, "count": count},
        )
    ).scalar_one()
    return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]


async def finalize(
    session: AsyncSession, settings: Settings, invoice: Invoice, actor_id: uuid.UUID | None
) -> Invoice:
    INVOICE.apply(invoice, InvoiceAction.FINALIZE)
    now = clock.now()
    with session.no_autoflush:  # the status, number and due date in one UPDATE
        invoice.number = await next_number(session, settings, now.year)
    invoice.finalized_at = now
    invoice.due_at = now + timedelta(days=settings.billing_payment_terms_days)
    await session.flush()
    await audit.record(
        session,
        action="invoice.finalized",
        resource_type="invoice",
        resource_id=invoice.id,
        actor_id=actor_id,
        tenant_id=invoice.tenant_id,
        new_values={
            "number": invoice.number,
            "total_cents": invoice.total_cents,
            "currency": invoice.currency,
            "reason": invoice.reason,
        },
    )
    await events.emit(session, INVOICE_CREATED, invoice_event(invoice), tenant_id=invoice.tenant_id)
    return invoice


def invoice_event(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.id),
        "tenant_id": str(invoice.tenant_id),
        "subscription_id": str(invoice.subscription_id) if invoice.subscription_id else None,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "total_cents": invoice.total_cents,
        "currency": invoice.currency,
    }


async def mark_paid(
    session: AsyncSession,
    invoice: Invoice,
    actor_id: uuid.UUID | None,
    *,
    provider_charge_id: str | None = None,
) -> Invoice:
    before = invoice.status
    INVOICE.apply(invoice, InvoiceAction.PAY)
    invoice.amount_paid_cents = invoice.total_cents
    invoice.paid_at = clock.now()
    invoice.next_attempt_at = None
    if provider_charge_id:
        invoice.provider_charge_id = provider_charge_id
    await session.flush()
    await audit.record(
        session,
        action="invoice.paid",
        resource_type="invoice",
        resource_id=invoice.id,
        actor_id=actor_id,
        tenant_id=invoice.tenant_id,
        old_values={"status": before},
        new_values={"status": invoice.status, "amount_paid_cents": invoice.amount_paid_cents},
    )
    await events.emit(session, INVOICE_PAID, invoice_event(invoice), tenant_id=invoice.tenant_id)
    await events.emit(
        session,
        PAYMENT_SUCCEEDED,
        {**invoice_event(invoice), "amount_cents": invoice.total_cents},
        tenant_id=invoice.tenant_id,
    )
    return invoice


async def void(session: AsyncSession, invoice: Invoice, actor_id: uuid.UUID | None) -> Invoice:
    before = invoice.status
    INVOICE.apply(invoice, InvoiceAction.VOID)
    invoice.voided_at = clock.now()
    invoice.next_attempt_at = None
    await session.flush()
    await audit.record(
        session,
        action="invoice.voided",
        resource_type="invoice",
        resource_id=invoice.id,
        actor_id=actor_id,
        tenant_id=invoice.tenant_id,
        old_values={"status": before},
        new_values={"status": invoice.status},
    )
    return invoice


async def credit_note(
    session: AsyncSession,
    settings: Settings,
    invoice: Invoice,
    actor_id: uuid.UUID | None,
    *,
    amount_cents: int | None = None,
) -> Invoice:
    """A refund of a paid invoice: a numbered credit note for ``amount_cents`` of its
    subtotal (all of it when None), with the same tax rate, paid back at once."""
    if invoice.status != InvoiceStatus.PAID.value or invoice.kind != InvoiceKind.INVOICE.value:
        raise Conflict("Only a paid invoice can be refunded with a credit note")
    credited = (
        await session.execute(
            select(Invoice.subtotal_cents).where(
                Invoice.credits_invoice_id == invoice.id, Invoice.status != "void"
            )
        )
    ).scalars()
    left = invoice.subtotal_cents + sum(credited)  # credit notes' subtotals are negative
    amount = left if amount_cents is None else amount_cents
    if amount <= 0 or amount > left:
        raise Conflict(
            f"A credit note may credit 1 to {left} cents of this invoice",
            details={"creditable_cents": left},
        )
    tenant = await session.get(Tenant, invoice.tenant_id)
    assert tenant is not None
    subscription = (
        await session.get(Subscription, invoice.subscription_id)
        if invoice.subscription_id
        else None
    )
    note = await draft_invoice(
        session,
        settings,
        tenant,
        subscription,
        [Line(f"Credit for invoice {invoice.number}", 1, -amount, -amount)],
        currency=invoice.currency,
        reason="refund",
        kind=InvoiceKind.CREDIT_NOTE,
        credits=invoice,
    )
    # The credit note carries the invoice's tax rate, whatever the country says today.
    note.tax_rate_basis_points = invoice.tax_rate_basis_points
    note.tax_cents = round_half_up(-amount * invoice.tax_rate_basis_points, 10_000)
    note.total_cents = note.subtotal_cents + note.tax_cents
    await finalize(session, settings, note, actor_id)
    INVOICE.apply(note, InvoiceAction.PAY)
    note.amount_paid_cents = note.total_cents
    note.paid_at = clock.now()
    await session.flush()
    return note
