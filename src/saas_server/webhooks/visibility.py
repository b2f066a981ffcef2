"""Who may read which event: the one rule webhook endpoints (and the event stream) follow.

- A platform admin reads every event.
- A user reads the events of their own account (``user.*`` with their ``user_id``).
- A tenant's owners and admins read that tenant's events (members do not: events carry
  billing and lifecycle details only managers see through the API).
- An event with neither tenant nor user (a platform event) is for platform admins only.

The rule is applied when an event is fanned out, with the memberships of that moment: an
owner who lost a tenant stops receiving its events at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.events.models import OutboxEvent
from saas_server.tenants.models import Membership
from saas_server.tenants.rules import MANAGER_ROLES
from saas_server.users.models import User


@dataclass(frozen=True)
class Reader:
    """What one user may read: everything (platform admin) or their account and tenants."""

    user_id: uuid.UUID
    is_platform_admin: bool
    managed_tenants: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def can_read(self, event: OutboxEvent) -> bool:
        return can_read(self, event.tenant_id, event.user_id)


def can_read(reader: Reader, tenant_id: uuid.UUID | None, user_id: uuid.UUID | None) -> bool:
    if reader.is_platform_admin:
        return True
    if user_id is not None and user_id == reader.user_id:
        return True
    return tenant_id is not None and tenant_id in reader.managed_tenants


async def managed_tenants(session: AsyncSession, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    rows = await session.execute(
        select(Membership.tenant_id).where(
            Membership.user_id == user_id, Membership.role.in_(tuple(MANAGER_ROLES))
        )
    )
    return frozenset(rows.scalars())


async def reader_of(session: AsyncSession, user: User) -> Reader:
    """``user``'s reading rights now; an inactive user reads nothing."""
    if not user.is_active:
        return Reader(user_id=user.id, is_platform_admin=False)
    if user.is_platform_admin:
        return Reader(user_id=user.id, is_platform_admin=True)
    return Reader(
        user_id=user.id,
        is_platform_admin=False,
        managed_tenants=await managed_tenants(session, user.id),
    )
