"""Which rate-limit plan a user's budget follows: the plans of the user's tenants decide it.

Core's rate limiter asks through the runtime's parts (``core.runtime.RuntimeParts.plan_of``);
``saas_server.wiring`` hands it :func:`rate_limit_plan`. A tenant's tier is the code of its
billing plan, whose ``rate_limit_class`` is read through :func:`tenants.tiers.grant_for`
(billing answers it; core never imports billing).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from saas_server.core.ratelimit import DEFAULT_PLAN, PLANS
from saas_server.core.runtime import Runtime
from saas_server.tenants.models import GONE_STATUSES, Membership, Tenant
from saas_server.tenants.tiers import grant_for
from saas_server.users.models import User


async def rate_limit_plan(runtime: Runtime, user_id: uuid.UUID) -> str:
    """``admin`` for platform admins, else the highest rate-limit class among the plans of
    the live tenants the user belongs to (the default plan without one, or for an unknown
    user)."""
    async with runtime.db.sessionmaker() as session:
        role = (
            await session.execute(select(User.role).where(User.id == user_id))
        ).scalar_one_or_none()
        if role == "admin":
            return "admin"
        if role is None:
            return DEFAULT_PLAN
        tiers = list(
            (
                await session.execute(
                    select(Tenant.tier)
                    .join(Membership, Membership.tenant_id == Tenant.id)
                    .where(Membership.user_id == user_id, Tenant.status.not_in(GONE_STATUSES))
                    .distinct()
                )
            ).scalars()
        )
        classes = [(await grant_for(session, tier)).rate_limit_class for tier in tiers]
    ranked = sorted((c for c in classes if c in PLANS and c != "admin"), key=PLANS.index)
    return ranked[-1] if ranked else DEFAULT_PLAN
