"""Renewals and dunning, run periodically on the injected clock (``billing.run_renewals``)
and by ``saas billing run-renewals [--at TIME]``; the schedule is in docs/billing.md.

Due subscriptions are taken :data:`BATCH_SIZE` at a time, their rows locked (``SKIP
LOCKED``: two runs never renew one subscription twice), their tenants, plans and billing
accounts read in one statement each, and renewed in one transaction, each in its own
savepoint (one that fails is undone alone and left for the next run). At the end of a period:

- canceled at period end, or its scheduled end (``end_date``) reached: the subscription ends;
- a scheduled end before the next period's end: that last period stops there, invoiced for
  its part (prorated);
- pending downgrade: applied (the tenant's tier follows);
- a trial with no payment method: the period's invoice is made and the tenant suspended at
  once; otherwise the next period's invoice is made and charged. A charge that fails (or a
  bank transfer that has not arrived by the invoice's due date) starts dunning: the
  subscription is ``past_due`` and the charge is retried :data:`RETRY_DAYS` after the first
  failure; after the last, the subscription is ``unpaid`` and the tenant ``suspended`` (its
  instance stopped). The owner is mailed at every step. Paying the
  invoice (a retry that succeeds, or an admin marking it paid) reactivates everything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.invoices import (
    INVOICE_CREATED,
    INVOICE_PAID,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    build_invoice,
    draft_invoice,
    finalize,
    invoice_event,
    last_period_lines,
    next_numbers,
    period_lines,
)
from saas_server.billing.lifecycle import INVOICE, SUBSCRIPTION, InvoiceAction, SubscriptionAction
from saas_server.billing.models import (
    RENEWING,
    BillingAccount,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentMethod,
    Plan,
    Subscription,
    SubscriptionStatus,
)
from saas_server.billing.payment_methods import DEFAULT_METHODS
from saas_server.billing.payments import (
    Attempt,
    attempt_charge,
    charge_invoice,
    payment_method_of,
)
from saas_server.billing.periods import period_end
from saas_server.billing.seats import defer_seat_sync
from saas_server.core import clock, faults
from saas_server.core.errors import Conflict
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.events.service import TENANT_UPDATED
from saas_server.instances.lifecycle import TENANT_STATUS
from saas_server.instances.lifecycle import Action as InstanceAction
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.instances.service import InstanceService, production_instance
from saas_server.mail.service import Mail, queue_mail, queue_mails
from saas_server.tenants import hooks as tenant_hooks
from saas_server.tenants import lifecycle as tenant_lifecycle
from saas_server.tenants.models import Tenant, TenantStatus
from saas_server.users.models import User

logger = logging.getLogger(__name__)

RUN_RENEWALS_TASK = "billing.run_renewals"
# Renewals (and retries) per transaction: a batch is locked and committed together. The
# invoice-number row stays locked until the batch commits, so an invoice finalised by a
# request meanwhile waits that long (about a second per 100 on a loaded machine).
BATCH_SIZE = 100
# Days after the first failed charge when it is tried again; a failure of the last suspends.
RETRY_DAYS = (1, 3, 5, 7)


# Names a renewal's invoice by its subscription and period (uuid5 of the renewal's key).
_RENEWAL_NAMESPACE = uuid.UUID("5b0e6f44-2a43-4bb4-9a51-0f3c2f1d7a15")


def renewal_key(subscription_id: uuid.UUID, period_start: datetime) -> str:
    """The idempotency key of the charge renewing ``subscription_id`` for the period that
    starts at ``period_start``: the same however often the renewal is run."""
    return f"renewal-{subscription_id}-{period_start.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"


def renewal_invoice_id(subscription_id: uuid.UUID, period_start: datetime) -> uuid.UUID:
    return uuid.uuid5(_RENEWAL_NAMESPACE, renewal_key(subscription_id, period_start))


@dataclass
class RenewalReport:
    renewed: int = 0
    canceled: int = 0
    retried: int = 0
    suspended: int = 0
    reactivated: int = 0
    failures: list[str] = field(default_factory=list)


async def run_renewals(
    runtime: Runtime, at: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> RenewalReport:
    """Everything due at ``at`` (now by default): period ends (and scheduled ends), then
    dunning retries; ``batch_size`` of them per transaction."""
    now = at or clock.now()
    report = RenewalReport()
    skipped: set[uuid.UUID] = set()  # failed in this run: left for the next one
    while True:
        async with runtime.db.transaction() as session:
            due = await _due_subscriptions(session, now, skipped, batch_size)
            if not due:
                break
            held = await _load_for(session, due)
            renewing: list[_Renewal] = []
            for subscription in due:
                # The usual renewal (invoiced, charged) is prepared and charged here, one by
                # one, each failure its own, then written with the others in bulk; the rare
                # ends (a cancellation, a trial with nothing to charge) go one by one.
                try:
                    renewal = await _prepare(session, runtime, subscription)
                    if renewal is not None:
                        await _charge(session, runtime, renewal)
                        renewing.append(renewal)
                        continue
                except Exception as exc:
                    logger.exception("billing: renewing %s failed", subscription.id)
                    skipped.add(subscription.id)
                    report.failures.append(f"{subscription.id}: {exc}")
                    continue
                await _isolated(
                    session,
                    report,
                    skipped,
                    subscription.id,
                    _end_period(session, runtime, subscription, report),
                )
            await _renew_all(session, runtime, renewing, report)
            session.info.pop(DEFAULT_METHODS, None)
            del held
            await faults.checkpoint(runtime.settings, "renewals.commit")
    while True:
        async with runtime.db.transaction() as session:
            invoices = (
                (
                    await session.execute(
                        select(Invoice)
                        .where(
                            Invoice.status == InvoiceStatus.OPEN.value,
                            Invoice.next_attempt_at <= now,
                            Invoice.id.not_in(skipped),
                        )
                        .order_by(Invoice.next_attempt_at, Invoice.id)
                        .limit(batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not invoices:
                break
            for invoice in invoices:
                await _isolated(
                    session,
                    report,
                    skipped,
                    invoice.id,
                    _retry(session, runtime, invoice, report, now),
                )
            await faults.checkpoint(runtime.settings, "renewals.commit")
    return report


async def _due_subscriptions(
    session: AsyncSession, now: datetime, skipped: set[uuid.UUID], limit: int
) -> list[Subscription]:
    """The next ``limit`` due subscriptions, locked (``SKIP LOCKED``): first those whose
    period ended, earliest first, then those whose scheduled end (``end_date``) came before.

    Two statements rather than one with ``OR``: each walks its own index in order and stops
    after ``limit`` rows (``ix_subscriptions_due``, partial on the renewing statuses, and
    ``ix_subscriptions_end_date``). The statuses are written as the index's own literal
    predicate: as bound parameters, a prepared statement's generic plan could not prove it
    and would leave the index. With the ``OR``, every batch read and sorted every
    subscription still due, so a run over n due subscriptions grew as n² / batch size
    (bench/billing.py: 21 ms a batch at 10,000 due).
    """

    def due_by(column: Any) -> Any:
        return (
            select(Subscription)
            .where(
                text(RENEWING),
                column <= now,
                Subscription.id.not_in(skipped),
            )
            .order_by(column, Subscription.id)
            .with_for_update(skip_locked=True)
        )

    due = list(
        (await session.execute(due_by(Subscription.current_period_end).limit(limit)))
        .scalars()
        .all()
    )
    if len(due) < limit:
        taken = {subscription.id for subscription in due}
        ending = due_by(Subscription.end_date).where(Subscription.id.not_in(taken))
        due += (await session.execute(ending.limit(limit - len(due)))).scalars().all()
    return due


async def _isolated(
    session: AsyncSession,
    report: RenewalReport,
    skipped: set[uuid.UUID],
    row_id: uuid.UUID,
    step: Coroutine[Any, Any, None],
) -> None:
    """One renewal or retry in its own savepoint: one that fails is undone alone (its
    invoice number given back), reported, and left for the next run; the batch goes on."""
    try:
        async with session.begin_nested():
            await step
    except Exception as exc:
        logger.exception("billing: renewing %s failed", row_id)
        skipped.add(row_id)
        report.failures.append(f"{row_id}: {exc}")


async def _load_for(session: AsyncSession, subscriptions: Sequence[Subscription]) -> list[object]:
    """The batch's tenants, plans, billing accounts (made where missing) and payment
    methods in a statement each, so each renewal finds them in the session instead of
    asking one by one. The caller keeps the answer for the batch: the session holds its
    rows weakly, and would forget them."""
    tenant_ids = {s.tenant_id for s in subscriptions}
    plan_ids = {s.plan_id for s in subscriptions} | {
        s.pending_plan_id for s in subscriptions if s.pending_plan_id is not None
    }
    now = clock.now()
    await session.execute(
        pg_insert(BillingAccount)
        .values([{"tenant_id": t, "created_at": now, "updated_at": now} for t in tenant_ids])
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    held: list[object] = []
    for stmt in (
        select(Tenant).where(Tenant.id.in_(tenant_ids)),
        select(Plan).where(Plan.id.in_(plan_ids)),
        select(BillingAccount).where(BillingAccount.tenant_id.in_(tenant_ids)),
    ):
        held.extend((await session.execute(stmt)).scalars())
    methods = (
        (
            await session.execute(
                select(PaymentMethod).where(PaymentMethod.tenant_id.in_(tenant_ids))
            )
        )
        .scalars()
        .all()
    )
    held.extend(methods)
    # Each tenant's default payment method (or none), for payment_methods.default_method.
    defaults: dict[uuid.UUID, PaymentMethod | None] = dict.fromkeys(tenant_ids)
    defaults.update({m.tenant_id: m for m in methods if m.is_default})
    session.info[DEFAULT_METHODS] = defaults
    return held


@dataclass
class _Renewal:
    """A renewal made ready to write: its next period's invoice drafted (not yet added to
    the session), the subscription untouched until it is written."""

    subscription: Subscription
    tenant: Tenant
    plan: Plan
    max_users: int
    billing_cycle: str
    start: datetime
    end: datetime
    trial_over: bool
    invoice: Invoice
    lines: list[InvoiceLine]
    attempt: Attempt | None = None


async def _prepare(
    session: AsyncSession, runtime: Runtime, subscription: Subscription
) -> _Renewal | None:
    """The renewal of a subscription whose period ended, from what the batch loaded
    (nothing is read or written here); None for the rare ends :func:`_end_period` makes."""
    ended_at = subscription.current_period_end
    scheduled_end = subscription.end_date
    if subscription.cancel_at_period_end or (
        scheduled_end is not None and scheduled_end <= ended_at
    ):
        return None  # it ends
    trial_over = subscription.status == SubscriptionStatus.TRIALING.value
    if trial_over and await payment_method_of(session, subscription) is None:
        return None  # nothing to charge: suspended
    tenant = await session.get(Tenant, subscription.tenant_id)
    account = await session.get(BillingAccount, subscription.tenant_id)
    plan = await session.get(Plan, subscription.pending_plan_id or subscription.plan_id)
    assert tenant is not None and account is not None and plan is not None
    max_users = subscription.pending_max_users or subscription.max_users
    cycle = subscription.pending_billing_cycle or subscription.billing_cycle
    start = ended_at
    end = period_end(start, cycle)
    lines = period_lines(plan, cycle, max_users, start, end)
    if scheduled_end is not None and scheduled_end < end:
        # The last period stops at the scheduled end, priced for its part (docs/billing.md).
        lines = last_period_lines(plan, cycle, max_users, start, scheduled_end, end)
        end = scheduled_end
    invoice, rows = build_invoice(
        runtime.settings,
        tenant,
        account,
        subscription,
        lines,
        currency=plan.currency,
        reason="subscription_cycle",
        invoice_id=renewal_invoice_id(subscription.id, start),
    )
    return _Renewal(
        subscription, tenant, plan, max_users, cycle, start, end, trial_over, invoice, rows
    )


async def _charge(session: AsyncSession, runtime: Runtime, renewal: _Renewal) -> None:
    """Charge the renewal's invoice (nothing to collect: paid as it is). Keyed by
    subscription and period, described without the invoice's number: a batch whose commit
    failed after this charge asks again with the same request, which the ledger
    (payments.py) and the provider answer with the first charge."""
    invoice, subscription = renewal.invoice, renewal.subscription
    if invoice.total_cents <= 0:
        renewal.attempt = Attempt("succeeded")
        return
    renewal.attempt = await attempt_charge(
        session,
        runtime,
        tenant=renewal.tenant,
        method=await payment_method_of(session, subscription),
        invoice_id=invoice.id,
        amount_cents=invoice.total_cents,
        currency=invoice.currency,
        description=(
            f"Subscription {subscription.id}, {renewal.start:%Y-%m-%d} to {renewal.end:%Y-%m-%d}"
        ),
        idempotency_key=renewal_key(subscription.id, renewal.start),
    )


async def _renew_all(
    session: AsyncSession, runtime: Runtime, renewals: list[_Renewal], report: RenewalReport
) -> None:
    """Write the batch's prepared and charged renewals set-based: their numbers in one
    statement, invoices, lines and subscription changes in one flush, then the events, the
    mails, the databases' new expiry and last the audit entries, each in bulk. What each
    renewal records, and in which order, is what :func:`_end_period` records for one."""
    if not renewals:
        return
    settings = runtime.settings
    now = clock.now()
    due_at = now + timedelta(days=settings.billing_payment_terms_days)
    numbers = await next_numbers(session, settings, now.year, len(renewals))
    owners = await _owners(session, [r.tenant for r in renewals])
    entries: list[audit.Entry] = []
    happened: list[events.NewEvent] = []
    mails: list[Mail] = []

    def event(type_: str, data: dict[str, Any], tenant_id: uuid.UUID) -> None:
        happened.append(events.NewEvent(type=type_, data=data, tenant_id=tenant_id))

    def subscription_event(type_: str, subscription: Subscription, **extra: object) -> None:
        event(type_, _subscription_data(subscription, extra), subscription.tenant_id)

    def mail(tenant: Tenant, subject: str, text: str) -> None:
        owner = owners.get(tenant.owner_id) if tenant.owner_id else None
        if owner is not None:
            mails.append(_owner_mail(owner, subject, text))

    for renewal, number in zip(renewals, numbers, strict=True):
        subscription, tenant, invoice = renewal.subscription, renewal.tenant, renewal.invoice
        attempt = renewal.attempt
        assert attempt is not None
        if subscription.pending_plan_id is not None:
            if subscription.pending_plan_id != subscription.plan_id:
                tenant.tier = renewal.plan.code
            subscription.plan_id = renewal.plan.id
            subscription.max_users = renewal.max_users
            subscription.billing_cycle = renewal.billing_cycle
            subscription.pending_plan_id = None
            subscription.pending_max_users = None
            subscription.pending_billing_cycle = None
        subscription.current_period_start = renewal.start
        subscription.current_period_end = renewal.end
        # Finalised (invoices.finalize): numbered, frozen, due.
        INVOICE.apply(invoice, InvoiceAction.FINALIZE)
        invoice.number, invoice.finalized_at, invoice.due_at = number, now, due_at
        entries.append(
            audit.Entry(
                action="invoice.finalized",
                resource_type="invoice",
                resource_id=invoice.id,
                tenant_id=invoice.tenant_id,
                new_values={
                    "number": invoice.number,
                    "total_cents": invoice.total_cents,
                    "currency": invoice.currency,
                    "reason": invoice.reason,
                },
            )
        )
        event(INVOICE_CREATED, invoice_event(invoice), tenant.id)
        report.renewed += 1
        if invoice.total_cents > 0:
            invoice.attempt_count = 1
        if attempt.status == "succeeded":
            invoice.provider_charge_id = attempt.provider_charge_id
            # Paid (invoices.mark_paid).
            INVOICE.apply(invoice, InvoiceAction.PAY)
            invoice.amount_paid_cents = invoice.total_cents
            invoice.paid_at = now
            invoice.next_attempt_at = None
            entries.append(
                audit.Entry(
                    action="invoice.paid",
                    resource_type="invoice",
                    resource_id=invoice.id,
                    tenant_id=invoice.tenant_id,
                    old_values={"status": InvoiceStatus.OPEN.value},
                    new_values={
                        "status": invoice.status,
                        "amount_paid_cents": invoice.amount_paid_cents,
                    },
                )
            )
            event(INVOICE_PAID, invoice_event(invoice), tenant.id)
            event(
                PAYMENT_SUCCEEDED,
                {**invoice_event(invoice), "amount_cents": invoice.total_cents},
                tenant.id,
            )
            if renewal.trial_over:
                SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
            subscription_event("subscription.updated", subscription, renewed=True)
            continue
        if attempt.status == "pending":
            invoice.provider_charge_id = attempt.provider_charge_id
            if renewal.trial_over:
                SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
            # A bank transfer: dunning starts if it has not arrived by the due date.
            invoice.next_attempt_at = invoice.due_at
            mail(tenant, *_transfer_mail(tenant, invoice))
            continue
        # Declined: dunning starts (_failed, at its first failure).
        event(PAYMENT_FAILED, {**invoice_event(invoice), **(attempt.details or {})}, tenant.id)
        if renewal.trial_over:
            SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
        invoice.dunning_started_at = renewal.start
        before = subscription.status
        SUBSCRIPTION.apply(subscription, SubscriptionAction.PAYMENT_FAILED)
        subscription_event("subscription.updated", subscription, previous_status=before)
        invoice.next_attempt_at = renewal.start + timedelta(days=RETRY_DAYS[0])
        mail(tenant, *_failed_mail(tenant, invoice))
    session.add_all([r.invoice for r in renewals])
    session.add_all([line for r in renewals for line in r.lines])
    await session.flush()
    await events.emit_many(session, happened)
    await queue_mails(session, runtime.secrets, mails)
    # A new period moves the Odoo databases' expiry on (and applies a downgraded tier).
    await tenant_hooks.tenant_tiers_changed.fire(session, runtime, [r.tenant for r in renewals])
    await audit.record_many(session, entries)  # last: the chain's lock is held briefly


async def _owners(session: AsyncSession, tenants: Sequence[Tenant]) -> dict[uuid.UUID, User]:
    owner_ids = {t.owner_id for t in tenants if t.owner_id is not None}
    if not owner_ids:
        return {}
    found = await session.execute(select(User).where(User.id.in_(owner_ids)))
    return {user.id: user for user in found.scalars()}


def _owner_mail(owner: User, subject: str, text: str) -> Mail:
    return Mail(
        to=owner.email,
        subject=subject,
        text=f"Hello {owner.full_name or owner.email},\n\n{text}\n",
    )


def _transfer_mail(tenant: Tenant, invoice: Invoice) -> tuple[str, str]:
    assert invoice.due_at is not None
    return (
        f"Invoice {invoice.number} for {tenant.name}",
        f"Please transfer {invoice.total_cents} {invoice.currency} (minor units) by "
        f"{invoice.due_at:%Y-%m-%d}, quoting {invoice.number}.",
    )


def _failed_mail(tenant: Tenant, invoice: Invoice) -> tuple[str, str]:
    assert invoice.next_attempt_at is not None
    return (
        f"Payment failed for {tenant.name}",
        f"We could not collect invoice {invoice.number}. We will try again on "
        f"{invoice.next_attempt_at:%Y-%m-%d}; {RETRY_DAYS[-1]} days after the first "
        "failure the tenant is suspended.",
    )


def _subscription_data(subscription: Subscription, extra: dict[str, object]) -> dict[str, Any]:
    return {
        "subscription_id": str(subscription.id),
        "tenant_id": str(subscription.tenant_id),
        "status": subscription.status,
        **extra,
    }


async def _end_period(
    session: AsyncSession, runtime: Runtime, subscription: Subscription, report: RenewalReport
) -> None:
    tenant = await session.get(Tenant, subscription.tenant_id)
    assert tenant is not None
    ended_at = subscription.current_period_end
    scheduled_end = subscription.end_date
    if scheduled_end is not None and scheduled_end <= ended_at:
        ended_at = scheduled_end  # its scheduled end (seed 003's end_date) comes first
    if subscription.cancel_at_period_end or ended_at == scheduled_end:
        SUBSCRIPTION.apply(subscription, SubscriptionAction.CANCEL)
        subscription.canceled_at = ended_at
        subscription.end_date = ended_at
        await session.flush()
        await defer_seat_sync(session, subscription.id)
        await _event(
            session,
            "subscription.canceled",
            subscription,
            {"at_period_end": True} if ended_at != scheduled_end else {"at_end_date": True},
        )
        report.canceled += 1
        return
    if subscription.pending_plan_id is not None:
        if subscription.pending_plan_id != subscription.plan_id:
            plan = await session.get(Plan, subscription.pending_plan_id)
            assert plan is not None
            tenant.tier = plan.code
        subscription.plan_id = subscription.pending_plan_id
        subscription.max_users = subscription.pending_max_users or subscription.max_users
        subscription.billing_cycle = (
            subscription.pending_billing_cycle or subscription.billing_cycle
        )
        subscription.pending_plan_id = None
        subscription.pending_max_users = None
        subscription.pending_billing_cycle = None
    plan = await session.get(Plan, subscription.plan_id)
    assert plan is not None
    start = ended_at
    end = period_end(start, subscription.billing_cycle)
    lines = period_lines(plan, subscription.billing_cycle, subscription.max_users, start, end)
    if scheduled_end is not None and scheduled_end < end:
        # The last period stops at the scheduled end, and is priced for its part of a
        # whole one (the proration rule of docs/billing.md).
        lines = last_period_lines(
            plan, subscription.billing_cycle, subscription.max_users, start, scheduled_end, end
        )
        end = scheduled_end
    trial_over = subscription.status == SubscriptionStatus.TRIALING.value
    subscription.current_period_start, subscription.current_period_end = start, end
    invoice = await draft_invoice(
        session,
        runtime.settings,
        tenant,
        subscription,
        lines,
        currency=plan.currency,
        reason="subscription_cycle",
        invoice_id=renewal_invoice_id(subscription.id, start),
    )
    await finalize(session, runtime.settings, invoice, None)
    report.renewed += 1
    if trial_over and await payment_method_of(session, subscription) is None:
        # Nothing to charge: the tenant is suspended until the invoice is paid. The invoice
        # is in dunning from now, so a card added later is charged on the next run.
        invoice.dunning_started_at = ended_at
        await _suspend(session, runtime, subscription, tenant, invoice)
        report.suspended += 1
        return
    # A new period moves the Odoo database's expiry on (and applies a downgraded tier): the
    # tenants' tier-change hook, whose handler writes it through the driver in a job.
    await tenant_hooks.tenant_tier_changed.fire(session, runtime, tenant)
    # Keyed by subscription and period, and described without the invoice's number: a
    # batch whose commit failed after this charge makes the same request again, which the
    # ledger (payments.py) and the provider answer with the first charge.
    outcome = await charge_invoice(
        session,
        runtime,
        invoice,
        idempotency_key=renewal_key(subscription.id, start),
        raise_on_decline=False,
        description=f"Subscription {subscription.id}, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )
    if outcome == "succeeded":
        if trial_over:
            SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
        await _event(session, "subscription.updated", subscription, {"renewed": True})
        return
    if trial_over:
        SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
    if outcome == "pending":
        # A bank transfer: dunning starts if it has not arrived by the due date.
        invoice.next_attempt_at = invoice.due_at
        await _mail_owner(session, runtime, tenant, *_transfer_mail(tenant, invoice))
        await session.flush()
        return
    await _failed(session, runtime, subscription, tenant, invoice, at=ended_at)


async def _failed(
    session: AsyncSession,
    runtime: Runtime,
    subscription: Subscription,
    tenant: Tenant,
    invoice: Invoice,
    *,
    at: datetime,
) -> None:
    """A charge failed at ``at`` (or a transfer is overdue): the next retry is the first
    of :data:`RETRY_DAYS` after dunning started that is still ahead; none left suspends."""
    if invoice.dunning_started_at is None:
        invoice.dunning_started_at = at
    if subscription.status != SubscriptionStatus.PAST_DUE.value:
        before = subscription.status
        SUBSCRIPTION.apply(subscription, SubscriptionAction.PAYMENT_FAILED)
        await _event(session, "subscription.updated", subscription, {"previous_status": before})
    elapsed = at - invoice.dunning_started_at
    ahead = [days for days in RETRY_DAYS if timedelta(days=days) > elapsed]
    if not ahead:
        await _suspend(session, runtime, subscription, tenant, invoice)
        return
    invoice.next_attempt_at = invoice.dunning_started_at + timedelta(days=ahead[0])
    await session.flush()
    await _mail_owner(session, runtime, tenant, *_failed_mail(tenant, invoice))


async def _retry(
    session: AsyncSession,
    runtime: Runtime,
    invoice: Invoice,
    report: RenewalReport,
    now: datetime,
) -> None:
    subscription = (
        await session.get(Subscription, invoice.subscription_id)
        if invoice.subscription_id
        else None
    )
    tenant = await session.get(Tenant, invoice.tenant_id)
    if subscription is None or tenant is None or subscription.status == "canceled":
        invoice.next_attempt_at = None
        return
    report.retried += 1
    scheduled = invoice.next_attempt_at or now
    attempt = invoice.attempt_count + 1
    outcome = await charge_invoice(
        session,
        runtime,
        invoice,
        idempotency_key=f"invoice-{invoice.id}-{attempt}",
        raise_on_decline=False,
    )
    if outcome == "succeeded":
        if await reactivate(session, runtime, invoice):
            report.reactivated += 1
        return
    if outcome == "pending":  # a bank transfer past its due date counts as a failed payment
        await events.emit(
            session,
            PAYMENT_FAILED,
            {**invoice_event(invoice), "reason": "transfer_overdue"},
            tenant_id=invoice.tenant_id,
        )
    if subscription.status == SubscriptionStatus.UNPAID.value:
        invoice.next_attempt_at = None  # suspended already; waits for a payment
        return
    await _failed(session, runtime, subscription, tenant, invoice, at=scheduled)
    if subscription.status == SubscriptionStatus.UNPAID.value:
        report.suspended += 1


async def _suspend(
    session: AsyncSession,
    runtime: Runtime,
    subscription: Subscription,
    tenant: Tenant,
    invoice: Invoice,
) -> None:
    # The instance's row first, locked (before the tenant's row is written: the flows lock
    # the instance, then write the tenant). A provisioning or restore that is finishing
    # ends before this reads its status, and sees the tenant ready, so the instance is
    # stopped here; one that ends after this commits sees the tenant suspended and stops
    # its instance itself (stop_if_suspended).
    with session.no_autoflush:
        instance = await _locked_production_instance(session, tenant.id)
        await session.refresh(tenant, attribute_names=["status"])  # as that flow left it
    SUBSCRIPTION.apply(subscription, SubscriptionAction.SUSPEND)
    invoice.next_attempt_at = None
    before = tenant.status
    # Suspended first: the instance's stop below then does not show on the tenant.
    tenant_lifecycle.suspend(tenant)
    if instance is not None and instance.status == InstanceStatus.READY.value:
        await InstanceService(session, runtime).act(instance, InstanceAction.STOP, None)
    await session.flush()
    await _tenant_changed(
        session,
        "tenant.suspended",
        tenant,
        before,
        {"reason": "unpaid", "invoice": invoice.number},
    )
    await _event(session, "subscription.updated", subscription, {"suspended": True})
    await _mail_owner(
        session,
        runtime,
        tenant,
        f"{tenant.name} is suspended",
        f"Invoice {invoice.number} is unpaid, so {tenant.name} is suspended and its Odoo "
        "stopped. Paying the invoice brings it back at once.",
    )


async def reactivate(session: AsyncSession, runtime: Runtime, invoice: Invoice) -> bool:
    """The invoice was paid: a past-due or unpaid subscription is active again, and a
    suspended tenant resumes (its instance started). True when it was suspended."""
    if invoice.subscription_id is None:
        return False
    subscription = await session.get(Subscription, invoice.subscription_id)
    tenant = await session.get(Tenant, invoice.tenant_id)
    if subscription is None or tenant is None:
        return False
    if subscription.status in (
        SubscriptionStatus.PAST_DUE.value,
        SubscriptionStatus.UNPAID.value,
        SubscriptionStatus.TRIALING.value,
    ):
        SUBSCRIPTION.apply(subscription, SubscriptionAction.ACTIVATE)
        await _event(session, "subscription.updated", subscription, {"reactivated": True})
    before = tenant.status
    instance = await production_instance(session, tenant.id)
    if not tenant_lifecycle.resume(
        tenant, TENANT_STATUS[InstanceStatus(instance.status)] if instance else None
    ):
        return False
    # Resumed first: starting a suspended tenant's instance is refused.
    if instance is not None and instance.status == InstanceStatus.STOPPED.value:
        await InstanceService(session, runtime).act(instance, InstanceAction.START, None)
    await session.flush()
    await _tenant_changed(
        session, "tenant.reactivated", tenant, before, {"invoice": invoice.number}
    )
    await _mail_owner(
        session,
        runtime,
        tenant,
        f"{tenant.name} is active again",
        f"Thank you: invoice {invoice.number} is paid and {tenant.name} is running again.",
    )
    return True


async def _locked_production_instance(
    session: AsyncSession, tenant_id: uuid.UUID
) -> Instance | None:
    return (
        await session.execute(
            select(Instance)
            .where(Instance.tenant_id == tenant_id, Instance.kind == "production")
            .order_by(Instance.created_at.desc())
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def stop_if_suspended(session: AsyncSession, runtime: Runtime, instance: Instance) -> None:
    """``instance_settled``: a provisioning or restore that was running when its tenant was
    suspended ends with the instance stopped, not running (the suspension could not stop
    an instance that was not ready yet). The tenant's status is read afresh: the flow holds
    the instance's row, so a suspension that commits first is seen here."""
    if instance.kind != "production" or instance.status != InstanceStatus.READY.value:
        return
    status = (
        await session.execute(select(Tenant.status).where(Tenant.id == instance.tenant_id))
    ).scalar_one_or_none()
    if status != TenantStatus.SUSPENDED.value:
        return
    logger.info("billing: tenant %s is suspended; its instance stays stopped", instance.tenant_id)
    await InstanceService(session, runtime).act(instance, InstanceAction.STOP, None)


async def refuse_while_suspended(
    session: AsyncSession, instance: Instance, action: InstanceAction
) -> None:
    """``instance_changing``: a suspended tenant's instance stays stopped until its invoice
    is paid (no start, restart, retry or restore, by its owner or an admin); its deletion
    and the suspension's own stop go ahead."""
    if action in (InstanceAction.STOP, InstanceAction.DELETE) or instance.kind != "production":
        return
    tenant = await session.get(Tenant, instance.tenant_id)
    if tenant is None or tenant.status != TenantStatus.SUSPENDED.value:
        return
    raise Conflict(
        f"{tenant.name} is suspended for an unpaid invoice: paying it (or an admin marking "
        "it paid) starts its instance again",
        details={"tenant_id": str(tenant.id), "tenant_status": tenant.status},
    )


async def _tenant_changed(
    session: AsyncSession,
    audit_action: str,
    tenant: Tenant,
    before: str,
    extra: dict[str, object],
) -> None:
    """Audited, and told to webhooks as the tenant's update (its status changed)."""
    await audit.record(
        session,
        action=audit_action,
        resource_type="tenant",
        resource_id=tenant.id,
        tenant_id=tenant.id,
        old_values={"status": before},
        new_values={"status": tenant.status, **extra},
    )
    await events.emit(
        session,
        TENANT_UPDATED,
        {"tenant_id": str(tenant.id), "changes": {"status": tenant.status}},
        tenant_id=tenant.id,
    )


async def _event(
    session: AsyncSession, type_: str, subscription: Subscription, extra: dict[str, object]
) -> None:
    await events.emit(
        session, type_, _subscription_data(subscription, extra), tenant_id=subscription.tenant_id
    )


async def _mail_owner(
    session: AsyncSession, runtime: Runtime, tenant: Tenant, subject: str, text: str
) -> None:
    owner = await session.get(User, tenant.owner_id) if tenant.owner_id else None
    if owner is None:
        return
    await queue_mail(session, runtime.secrets, _owner_mail(owner, subject, text))


__all__ = [
    "RETRY_DAYS",
    "RUN_RENEWALS_TASK",
    "RenewalReport",
    "reactivate",
    "refuse_while_suspended",
    "run_renewals",
    "stop_if_suspended",
]
