"""What a change of plan, seats or cycle would cost, computed without changing anything.

The same decision as ``BillingService.update`` (``_change_terms``) and the same arithmetic
(``invoices.proration_lines``, tax by the billing country, half-up cents): an upgrade during
a period is charged now for the rest of it; a cheaper plan, fewer seats or another cycle wait
for the period's end and cost nothing now; during a trial any change applies at once, free.
At the same moment, the preview's total is to the cent the invoice the change would make.
"""

from __future__ import annotations

from typing import Any, Literal

from saas_server.billing.invoices import (
    Line,
    billing_account,
    period_amount,
    proration_lines,
    round_half_up,
    tax_rate,
)
from saas_server.billing.models import Plan, Subscription, SubscriptionStatus
from saas_server.billing.service import BillingService, get_plan, seats_of
from saas_server.core import clock
from saas_server.core.errors import Conflict, ValidationFailed
from saas_server.tenants.base import TenantAccess

Applies = Literal["now", "period_end", "unchanged"]


async def preview_change(
    service: BillingService,
    access: TenantAccess,
    subscription: Subscription,
    changes: dict[str, Any],
) -> dict[str, Any]:
    if subscription.status == SubscriptionStatus.CANCELED.value:
        raise Conflict("The subscription is canceled")
    current = await get_plan(service.session, subscription.plan_id)
    plan: Plan = current
    if changes.get("plan") is not None and changes["plan"] != current.code:
        plan = await service._plan_for(changes["plan"])
    seat_count = len((await seats_of(service.session, [subscription.id]))[subscription.id])
    max_users = changes.get("max_users") or subscription.max_users
    cycle = changes.get("billing_cycle") or subscription.billing_cycle
    service._check_seats(plan, max_users, seat_count)
    old = (current, subscription.billing_cycle, subscription.max_users)
    new = (plan, cycle, max_users)
    now = clock.now()
    trialing = subscription.status == SubscriptionStatus.TRIALING.value
    lines: list[Line] = []
    applies: Applies
    if old == new:
        applies = "unchanged"
    elif plan.currency != current.currency and not trialing:
        raise ValidationFailed.for_field(
            "plan", "A plan in another currency starts with a new subscription."
        )
    elif trialing:
        applies = "now"
    elif cycle != old[1] or not period_amount(*new) > period_amount(*old):
        applies = "period_end"
    else:
        applies = "now"
        lines = proration_lines(
            old, new, now, subscription.current_period_start, subscription.current_period_end
        )
    account = await billing_account(service.session, subscription.tenant_id)
    rate = tax_rate(service.runtime.settings, account.country)
    subtotal = sum(line.amount_cents for line in lines)
    tax = round_half_up(subtotal * rate, 10_000)
    return {
        "subscription_id": subscription.id,
        "at": now,
        "applies": applies,
        "effective_at": (subscription.current_period_end if applies == "period_end" else now),
        "plan": plan.code,
        "billing_cycle": cycle,
        "max_users": max_users,
        "current_period_amount_cents": period_amount(*old),
        "new_period_amount_cents": period_amount(*new),
        "currency": plan.currency,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount_cents": line.unit_amount_cents,
                "amount_cents": line.amount_cents,
                "proration": line.proration,
                "period_start": line.period_start,
                "period_end": line.period_end,
            }
            for line in lines
        ],
        "subtotal_cents": subtotal,
        "tax_rate_basis_points": rate,
        "tax_cents": tax,
        "total_cents": subtotal + tax,
    }
