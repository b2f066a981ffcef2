"""Which rate-limit plan a user's budget follows: the tenants' tiers decide it.

Core's rate limiter asks through the runtime's parts (``core.runtime.RuntimeParts.plan_of``);
``saas_server.wiring`` hands it :func:`rate_limit_plan`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from saas_server.core.ratelimit import DEFAULT_PLAN, PLAN_OF_TIER
from saas_server.core.runtime import Runtime
from saas_server.tenants.service import highest_tier
from saas_server.users.models import User


async def rate_limit_plan(runtime: Runtime, user_id: uuid.UUID) -> str:
    """``admin`` for platform admins, else the plan of the highest tier among the user's
    tenants (the default plan without one, or for an unknown user)."""
    async with runtime.db.sessionmaker() as session:
        role = (
            await session.execute(select(User.role).where(User.id == user_id))
        ).scalar_one_or_none()
        if role == "admin":
            return "admin"
        tier = await highest_tier(session, user_id) if role is not None else None
    return PLAN_OF_TIER.get(tier or "", DEFAULT_PLAN)
