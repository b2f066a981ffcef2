"""Plans and subscriptions: the rules the API, the CLI and the jobs share. Never commits.

A plan's ``code`` is the tier it grants (decision 0008): subscribing, or changing plan, moves
the tenant's tier through the tenants' own tier-change path, which re-tiers its database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.billing.invoices import (
    draft_invoice,
    finalize,
    period_amount,
    period_lines,
    proration_lines,
    round_half_up,
)
from saas_server.billing.lifecycle import SUBSCRIPTION, SubscriptionAction
from saas_server.billing.models import (
    LIVE_STATUSES,
    ONE_LIVE_SUBSCRIPTION_INDEX,
    BillingCycle,
    Invoice,
    InvoiceStatus,
    PaymentMethod,
    Plan,
    Seat,
    Subscription,
    SubscriptionStatus,
)
from saas_server.billing.payments import charge_invoice
from saas_server.billing.periods import period_end
from saas_server.billing.renewals import reactivate
from saas_server.billing.seats import defer_seat_sync
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Conflict, NotFound, ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.tenants.base import TenantAccess
from saas_server.tenants.models import Membership, Tenant
from saas_server.tenants.service import TenantService
from saas_server.tenants.tiers import BackupPolicy, TierLimits
from saas_server.users.models import User

SUBSCRIPTION_CREATED = "subscription.created"
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"


class PlanNotFound(NotFound):
    code = "PLAN_NOT_FOUND"
    message = "Plan not found"


class PlanCodeTaken(Conflict):
    message = "A plan with this code exists already"
    unique_constraints = ("uq_plans_code",)


class SubscriptionNotFound(NotFound):
    code = "SUBSCRIPTION_NOT_FOUND"
    message = "Subscription not found"


class SubscriptionExists(Conflict):
    message = "The tenant already has an active subscription"
    unique_constraints = (ONE_LIVE_SUBSCRIPTION_INDEX,)


# -- plans ----------------------------------------------------------------------------------

GRANT_FIELDS = ("max_users", "storage_gb", "expiration_days", "expiration_reason")


def grant_of(plan: Plan) -> TierLimits:
    return TierLimits(
        max_users=plan.max_users,
        storage_gb=plan.storage_gb,
        expiration_days=plan.expiration_days,
        expiration_reason=plan.expiration_reason,
        backups=BackupPolicy(**plan.backup_policy),
        rate_limit_class=plan.rate_limit_class,
    )


async def tier_grant(session: AsyncSession, tier: str) -> TierLimits | None:
    """What the plan of code ``tier`` grants (answers tenants/tiers.py's ``tier_grant``).
    An archived plan still grants its tier to the tenants that hold it."""
    plan = (await session.execute(select(Plan).where(Plan.code == tier))).scalar_one_or_none()
    return grant_of(plan) if plan is not None else None


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    return {
        column: getattr(plan, column)
        for column in (
            "code",
            "name",
            "description",
            *GRANT_FIELDS,
            "backup_policy",
            "rate_limit_class",
            "currency",
            "monthly_amount_cents",
            "annual_amount_cents",
            "seats_included",
            "extra_seat_amount_cents",
            "trial_days",
            "is_active",
        )
    }


def plans_query(*, active_only: bool) -> Select[Any]:
    stmt = select(Plan)
    return stmt.where(Plan.is_active.is_(True)) if active_only else stmt


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound()
    return plan


async def plan_by_code(session: AsyncSession, code: str) -> Plan | None:
    return (await session.execute(select(Plan).where(Plan.code == code))).scalar_one_or_none()


async def create_plan(
    session: AsyncSession, actor: User, fields: dict[str, Any], client: ClientInfo | None = None
) -> Plan:
    if await plan_by_code(session, fields["code"]) is not None:
        raise PlanCodeTaken()
    plan = Plan(**fields)
    session.add(plan)
    await session.flush()
    await audit.record(
        session,
        action="plan.created",
        resource_type="plan",
        resource_id=plan.id,
        actor_id=actor.id,
        new_values=plan_snapshot(plan),
        client=client,
    )
    return plan


async def update_plan(
    session: AsyncSession,
    actor: User,
    plan: Plan,
    changes: dict[str, Any],
    client: ClientInfo | None = None,
) -> Plan:
    before = plan_snapshot(plan)
    for field, value in changes.items():
        setattr(plan, field, value)
    await session.flush()
    after = plan_snapshot(plan)
    old = {k: v for k, v in before.items() if after[k] != v}
    if old:
        await audit.record(
            session,
            action="plan.updated",
            resource_type="plan",
            resource_id=plan.id,
            actor_id=actor.id,
            old_values=old,
            new_values={k: after[k] for k in old},
            client=client,
        )
    return plan


async def delete_plan(
    session: AsyncSession, actor: User, plan: Plan, client: ClientInfo | None = None
) -> None:
    """A plan nobody ever subscribed to goes; one with subscriptions can only be archived."""
    used = (
        await session.execute(
            select(func.count()).select_from(Subscription).where(Subscription.plan_id == plan.id)
        )
    ).scalar_one()
    if used:
        raise Conflict("The plan has subscriptions; archive it (is_active false) instead")
    snapshot = plan_snapshot(plan)
    await session.delete(plan)
    await session.flush()
    await audit.record(
        session,
        action="plan.deleted",
        resource_type="plan",
        resource_id=plan.id,
        actor_id=actor.id,
        old_values=snapshot,
        client=client,
    )


# -- subscriptions --------------------------------------------------------------------------


async def subscription_counts(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Live subscriptions per tenant (answers tenants' ``tenant_subscription_counts``)."""
    counts: dict[uuid.UUID, int] = {}
    if tenant_ids:
        result = await session.execute(
            select(Subscription.tenant_id, func.count())
            .where(
                Subscription.tenant_id.in_(tenant_ids),
                Subscription.status.in_(LIVE_STATUSES),
            )
            .group_by(Subscription.tenant_id)
        )
        counts = {tenant_id: int(count) for tenant_id, count in result}
    return {tenant_id: counts.get(tenant_id, 0) for tenant_id in tenant_ids}


async def seats_of(
    session: AsyncSession, subscription_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The seat holders of each subscription, oldest seat first, in one statement."""
    seats: dict[uuid.UUID, list[uuid.UUID]] = {sid: [] for sid in subscription_ids}
    if subscription_ids:
        result = await session.execute(
            select(Seat.subscription_id, Seat.user_id)
            .where(Seat.subscription_id.in_(subscription_ids))
            .order_by(Seat.created_at, Seat.id)
        )
        for subscription_id, user_id in result:
            seats[subscription_id].append(user_id)
    return seats


def subscription_snapshot(subscription: Subscription, plan_code: str) -> dict[str, Any]:
    return {
        "plan": plan_code,
        "status": subscription.status,
        "billing_cycle": subscription.billing_cycle,
        "max_users": subscription.max_users,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "end_date": subscription.end_date.isoformat() if subscription.end_date else None,
        "payment_method_id": (
            str(subscription.payment_method_id) if subscription.payment_method_id else None
        ),
    }


class BillingService:
    def __init__(self, session: AsyncSession, runtime: Runtime, client: ClientInfo | None = None):
        self.session = session
        self.runtime = runtime
        self.client = client
        self.tenants = TenantService(session, runtime, client)

    # -- reading --

    def visible_subscriptions(self, actor: User) -> Select[Any]:
        """The subscriptions of the tenants ``actor`` belongs to (every one for admins)."""
        stmt = select(Subscription)
        if not actor.is_platform_admin:
            stmt = stmt.where(
                Subscription.tenant_id.in_(
                    select(Membership.tenant_id).where(Membership.user_id == actor.id)
                )
            )
        return stmt

    async def access_subscription(
        self, actor: User, subscription_id: uuid.UUID
    ) -> tuple[TenantAccess, Subscription]:
        subscription = await self.session.get(Subscription, subscription_id)
        if subscription is None:
            raise SubscriptionNotFound()
        try:
            access = await self.tenants.access(actor, subscription.tenant_id)
        except NotFound:
            raise SubscriptionNotFound() from None
        return access, subscription

    async def plan_codes(self, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not plan_ids:
            return {}
        result = await self.session.execute(
            select(Plan.id, Plan.code).where(Plan.id.in_(set(plan_ids)))
        )
        return {plan_id: code for plan_id, code in result}

    # -- changing --

    async def _plan_for(self, code: str) -> Plan:
        plan = await plan_by_code(self.session, code)
        if plan is None or not plan.is_active:
            raise ValidationFailed.for_field("plan", f"Unknown plan {code!r}.")
        return plan

    @staticmethod
    def _check_seats(plan: Plan, max_users: int, user_count: int) -> None:
        if max_users > plan.max_users:
            raise ValidationFailed.for_field(
                "max_users", f"The {plan.code} plan allows at most {plan.max_users} users."
            )
        if max_users < user_count:
            raise ValidationFailed.for_field(
                "max_users",
                f"{user_count} seats are taken; remove users before lowering max_users.",
            )

    async def create(
        self,
        actor: User,
        tenant_id: uuid.UUID,
        *,
        plan_code: str,
        billing_cycle: str,
        max_users: int | None,
        payment_method_id: uuid.UUID | None,
    ) -> Subscription:
        access = await self.tenants.access(actor, tenant_id)
        access.require_owner()
        plan = await self._plan_for(plan_code)
        seats = max_users if max_users is not None else min(plan.seats_included, plan.max_users)
        self._check_seats(plan, seats, 0)
        live = (
            await self.session.execute(
                select(Subscription.id).where(
                    Subscription.tenant_id == tenant_id, Subscription.status.in_(LIVE_STATUSES)
                )
            )
        ).first()
        if live is not None:
            raise SubscriptionExists()
        if payment_method_id is not None:
            method = await self.session.get(PaymentMethod, payment_method_id)
            if method is None or method.tenant_id != tenant_id:
                raise ValidationFailed.for_field(
                    "payment_method_id", "Not a payment method of this tenant."
                )
        now = clock.now()
        if plan.trial_days > 0:
            status, trial_end = (
                SubscriptionStatus.TRIALING.value,
                now + timedelta(days=plan.trial_days),
            )
            end = trial_end
        else:
            status, trial_end = SubscriptionStatus.ACTIVE.value, None
            end = period_end(now, billing_cycle)
        subscription = Subscription(
            tenant_id=tenant_id,
            plan_id=plan.id,
            status=status,
            billing_cycle=billing_cycle,
            max_users=seats,
            start_date=now,
            current_period_start=now,
            current_period_end=end,
            trial_end=trial_end,
            payment_method_id=payment_method_id,
            created_by=actor.id,
        )
        self.session.add(subscription)
        await self.session.flush()
        await self._grant_tier(access, plan)
        if status == SubscriptionStatus.ACTIVE.value:
            # No trial: the first period is invoiced and charged now (manual: pending).
            invoice = await draft_invoice(
                self.session,
                self.runtime.settings,
                access.tenant,
                subscription,
                period_lines(plan, billing_cycle, seats, now, end),
                currency=plan.currency,
                reason="subscription_create",
            )
            await finalize(self.session, self.runtime.settings, invoice, actor.id)
            await charge_invoice(
                self.session, self.runtime, invoice, idempotency_key=f"invoice-{invoice.id}"
            )
        await self._record(
            "subscription.created", SUBSCRIPTION_CREATED, actor, subscription, plan.code, None
        )
        return subscription

    async def _grant_tier(self, access: TenantAccess, plan: Plan) -> None:
        # The tenants' own path: audit entry, event, and the database re-tiered (expiry).
        if access.tenant.tier != plan.code:
            await self.tenants.update_tenant(access, {"tier": plan.code})

    async def update(
        self,
        access: TenantAccess,
        subscription: Subscription,
        changes: dict[str, Any],
    ) -> Subscription:
        access.require_owner()
        if subscription.status == SubscriptionStatus.CANCELED.value:
            raise Conflict("The subscription is canceled")
        if changes.get("is_active") is False:
            return await self.cancel(access, subscription, at_period_end=False)
        current = await get_plan(self.session, subscription.plan_id)
        before = subscription_snapshot(subscription, current.code)
        plan = current
        if changes.get("plan") is not None and changes["plan"] != current.code:
            plan = await self._plan_for(changes["plan"])
        seat_count = len((await seats_of(self.session, [subscription.id]))[subscription.id])
        max_users = changes.get("max_users") or subscription.max_users
        cycle = changes.get("billing_cycle") or subscription.billing_cycle
        self._check_seats(plan, max_users, seat_count)
        if "payment_method_id" in changes:
            subscription.payment_method_id = changes["payment_method_id"]
        if changes.get("cancel_at_period_end") is not None:
            subscription.cancel_at_period_end = changes["cancel_at_period_end"]
        if "end_date" in changes:
            subscription.end_date = self._checked_end(subscription, changes["end_date"])
        old = (current, subscription.billing_cycle, subscription.max_users)
        new = (plan, cycle, max_users)
        if old != new:
            await self._change_terms(access, subscription, old, new)
        await self.session.flush()
        await self._record(
            "subscription.updated",
            SUBSCRIPTION_UPDATED,
            access.actor,
            subscription,
            (await get_plan(self.session, subscription.plan_id)).code,
            before,
        )
        return subscription

    @staticmethod
    def _checked_end(subscription: Subscription, end: datetime | None) -> datetime | None:
        """A scheduled end (Stripe's ``cancel_at``): in the future and after the start. The
        renewals end it then; a last period that would run past it is cut there and priced
        for its part (docs/billing.md)."""
        if end is None:
            return None
        if end <= clock.now():
            raise ValidationFailed.for_field("end_date", "The end date must be in the future.")
        if end <= subscription.start_date:
            raise ValidationFailed.for_field(
                "end_date", "The end date must be after the subscription's start date."
            )
        return end

    async def _change_terms(
        self,
        access: TenantAccess,
        subscription: Subscription,
        old: tuple[Plan, str, int],
        new: tuple[Plan, str, int],
    ) -> None:
        """Stripe's ``create_prorations``, with Lago's downgrades: during a trial any change
        applies at once; an upgrade or added seats (same cycle, dearer) apply now, with an
        invoice for the rest of the period charged at once; a cheaper plan, fewer seats or
        another cycle wait for the period's end (``pending_*``)."""
        plan, cycle, max_users = new
        now = clock.now()
        trialing = subscription.status == SubscriptionStatus.TRIALING.value
        if plan.currency != old[0].currency and not trialing:
            raise ValidationFailed.for_field(
                "plan", "A plan in another currency starts with a new subscription."
            )
        dearer = period_amount(*new) > period_amount(*old)
        if not trialing and (cycle != old[1] or not dearer):
            subscription.pending_plan_id = plan.id
            subscription.pending_max_users = max_users
            subscription.pending_billing_cycle = cycle
            return
        subscription.plan_id = plan.id
        subscription.max_users = max_users
        subscription.billing_cycle = cycle
        subscription.pending_plan_id = None
        subscription.pending_max_users = None
        subscription.pending_billing_cycle = None
        if plan.id != old[0].id:
            await self._grant_tier(access, plan)
        if trialing:
            return
        lines = proration_lines(
            old, new, now, subscription.current_period_start, subscription.current_period_end
        )
        invoice = await draft_invoice(
            self.session,
            self.runtime.settings,
            access.tenant,
            subscription,
            lines,
            currency=plan.currency,
            reason="subscription_update",
        )
        await finalize(self.session, self.runtime.settings, invoice, access.actor.id)
        await charge_invoice(
            self.session, self.runtime, invoice, idempotency_key=f"invoice-{invoice.id}"
        )

    async def after_payment(self, invoice: Invoice) -> None:
        """An invoice was paid: its subscription is active again and a tenant suspended
        for it comes back (renewals.py)."""
        await reactivate(self.session, self.runtime, invoice)

    async def cancel(
        self, access: TenantAccess, subscription: Subscription, *, at_period_end: bool
    ) -> Subscription:
        access.require_owner()
        if subscription.status == SubscriptionStatus.CANCELED.value:
            raise Conflict("The subscription is canceled already")
        plan = await get_plan(self.session, subscription.plan_id)
        before = subscription_snapshot(subscription, plan.code)
        if at_period_end:
            subscription.cancel_at_period_end = True
            await self.session.flush()
            await self._record(
                "subscription.updated",
                SUBSCRIPTION_UPDATED,
                access.actor,
                subscription,
                plan.code,
                before,
            )
            return subscription
        now = clock.now()
        SUBSCRIPTION.apply(subscription, SubscriptionAction.CANCEL)
        subscription.canceled_at = now
        subscription.end_date = now
        await self.session.flush()
        await defer_seat_sync(self.session, subscription.id)  # its Odoo users are archived
        await self._record(
            "subscription.canceled",
            SUBSCRIPTION_CANCELED,
            access.actor,
            subscription,
            plan.code,
            before,
        )
        return subscription

    async def _record(
        self,
        action: str,
        event: str,
        actor: User | None,
        subscription: Subscription,
        plan_code: str,
        before: dict[str, Any] | None,
    ) -> None:
        after = subscription_snapshot(subscription, plan_code)
        old = {k: v for k, v in before.items() if after[k] != v} if before is not None else None
        await audit.record(
            self.session,
            action=action,
            resource_type="subscription",
            resource_id=subscription.id,
            actor_id=actor.id if actor else None,
            tenant_id=subscription.tenant_id,
            old_values=old,
            new_values={k: after[k] for k in old} if old is not None else after,
            client=self.client,
        )
        await events.emit(
            self.session,
            event,
            {
                "subscription_id": str(subscription.id),
                "tenant_id": str(subscription.tenant_id),
                **after,
            },
            tenant_id=subscription.tenant_id,
        )


async def tenant_of(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def subscription_statuses(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each tenant's subscription status (the admin's tenant overview): its live subscription's,
    else its latest's; tenants that never subscribed are left out."""
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(Subscription.tenant_id, Subscription.status)
        .where(Subscription.tenant_id.in_(tenant_ids))
        .order_by(
            Subscription.tenant_id,
            (Subscription.status == SubscriptionStatus.CANCELED.value).asc(),
            Subscription.created_at.desc(),
        )
        .ext(distinct_on(Subscription.tenant_id))
    )
    return {tenant_id: status for tenant_id, status in rows}


# -- figures for the admin stats (admin/stats calls these) --------------------------------


async def revenue_totals(session: AsyncSession) -> dict[str, int]:
    """Money collected per currency, in minor units: paid invoices minus paid credit notes
    (their totals are negative)."""
    result = await session.execute(
        select(Invoice.currency, func.sum(Invoice.total_cents))
        .where(Invoice.status == InvoiceStatus.PAID.value)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    return {currency: int(total) for currency, total in result}


async def mrr(session: AsyncSession) -> dict[str, int]:
    """Monthly recurring revenue per currency, in minor units, before tax: every active or
    past-due subscription's period price, an annual one's divided by 12 (rounded half up)."""
    rows = await session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.status.in_(
                (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.PAST_DUE.value)
            )
        )
    )
    totals: dict[str, int] = {}
    for subscription, plan in rows:
        amount = period_amount(plan, subscription.billing_cycle, subscription.max_users)
        if subscription.billing_cycle == BillingCycle.ANNUALLY.value:
            amount = round_half_up(amount, 12)
        totals[plan.currency] = totals.get(plan.currency, 0) + amount
    return dict(sorted(totals.items()))
