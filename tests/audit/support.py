"""Helpers for the audit tests: read the log directly, make tenants and memberships."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.core.runtime import Runtime
from saas_server.tenants.models import Membership, Tenant

# Strings that must never appear anywhere in an audit entry.
SECRET_MARKERS = ("$argon2", "correct-horse", "password_hash")


async def entries(runtime: Runtime, action: str | None = None) -> list[AuditEntry]:
    """Committed entries (read in a fresh transaction), in chain order."""
    async with runtime.db.transaction() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return list((await session.execute(stmt)).scalars())


async def make_tenant(
    runtime: Runtime, owner_id: uuid.UUID, subdomain: str, **members: Any
) -> uuid.UUID:
    """A tenant owned by ``owner_id``; ``members`` maps a role to a list of user ids."""
    async with runtime.db.transaction() as session:
        tenant = Tenant(
            name=subdomain.title(),
            subdomain=subdomain,
            tier="starter",
            owner_id=owner_id,
            settings={},
            metadata_={},
        )
        session.add(tenant)
        await session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=owner_id, role="owner"))
        for role, user_ids in members.items():
            for user_id in user_ids:
                session.add(Membership(tenant_id=tenant.id, user_id=user_id, role=role))
        return tenant.id
