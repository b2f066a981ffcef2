"""Deleting a tenant: the row stays through a grace period (its owners follow the deletion
and may recover its pre-delete backup, its subdomain stays held), then it is purged."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core import clock
from saas_server.tenants.base import TenantAccess, TenantServiceBase, tenant_snapshot
from saas_server.tenants.hooks import tenant_deletion_requested
from saas_server.tenants.lifecycle import TENANT_LIFECYCLE, Action
from saas_server.tenants.models import GONE_STATUSES, Tenant, TenantStatus


def grace_ends_at(tenant: Tenant, grace_days: int) -> datetime | None:
    """When a deleted tenant's grace period ends: its subdomain is free again, its owners no
    longer reach it, and (by default, as long) its pre-delete backup expires."""
    if tenant.deleted_at is None or tenant.status not in GONE_STATUSES:
        return None
    return tenant.deleted_at + timedelta(days=grace_days)


class DeletionActions(TenantServiceBase):
    async def delete_tenant(self, access: TenantAccess) -> Tenant:
        """The row stays (and keeps its subdomain until the grace period ends); the
        deletion job drops the Odoo database and marks the tenant deleted."""
        access.require_owner()
        tenant = access.tenant
        if tenant.status in GONE_STATUSES:
            return tenant
        before = tenant_snapshot(tenant)
        tenant.is_active = False
        tenant.deleted_at = clock.now()
        await tenant_deletion_requested.fire(self.session, self.runtime, tenant, access.actor)
        if tenant.status not in GONE_STATUSES:
            # No handler took a database down (it never had one): nothing to wait for.
            TENANT_LIFECYCLE.apply(tenant, Action.DELETE_AT_ONCE)
        await self.session.flush()
        await self._audit("tenant.deleted", tenant, access.actor, before, {"status": tenant.status})
        return tenant


async def purge_deleted_tenants(session: AsyncSession, grace_days: int) -> int:
    """Mark tenants deleted more than ``grace_days`` ago as purged: their subdomain is free."""
    cutoff = clock.now() - timedelta(days=grace_days)
    tenants = (
        await session.execute(
            select(Tenant).where(
                Tenant.status == TenantStatus.DELETED.value,
                Tenant.purged_at.is_(None),
                Tenant.deleted_at < cutoff,
            )
        )
    ).scalars()
    count = 0
    for tenant in tenants:
        tenant.purged_at = clock.now()
        count += 1
    await session.flush()
    return count
