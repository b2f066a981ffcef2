"""How a tenant's database follows the tenant: the handlers of the hooks tenants declares
(``tenants/hooks.py``), connected in :func:`saas_server.wiring.wire`.

Each runs in the tenant's request session and transaction: the instance row and its job
commit with the tenant row, or neither does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.runtime import Runtime
from saas_server.instances.schemas import InstanceRead
from saas_server.instances.service import (
    InstanceService,
    create_for_tenant,
    production_instance,
    production_instances,
)
from saas_server.tenants.hooks import NewTenant
from saas_server.tenants.models import Tenant
from saas_server.users.models import User


async def create_production_instance(
    session: AsyncSession, runtime: Runtime, new: NewTenant
) -> None:
    """``tenant_created``: the tenant's production instance, its provisioning deferred."""
    await create_for_tenant(
        session,
        runtime,
        new.tenant,
        odoo_version=new.odoo_version,
        admin_login=new.admin_login,
        admin_password=new.admin_password,
    )


async def apply_tenant_tier(session: AsyncSession, runtime: Runtime, tenant: Tenant) -> None:
    """``tenant_tier_changed``: the production database's expiry follows the new tier."""
    instance = await production_instance(session, tenant.id)
    if instance is not None:
        await InstanceService(session, runtime).apply_tier(instance, tenant.tier)


async def apply_tenants_tiers(
    session: AsyncSession, runtime: Runtime, tenants: Sequence[Tenant]
) -> None:
    """``tenant_tiers_changed``: :func:`apply_tenant_tier` for many tenants, with one read
    of their instances and one statement for their jobs."""
    placed = await production_instances(session, [tenant.id for tenant in tenants])
    if placed:
        await InstanceService(session, runtime).apply_tiers(
            [(placed[t.id][0], t.tier) for t in tenants if t.id in placed]
        )


async def delete_production_instance(
    session: AsyncSession, runtime: Runtime, tenant: Tenant, actor: User
) -> None:
    """``tenant_deletion_requested``: the production database is closed and its deletion
    job deferred; the instance's transition moves the tenant to ``deleting``."""
    instance = await production_instance(session, tenant.id)
    if instance is not None:
        await InstanceService(session, runtime).request_deletion(instance, actor.id)


async def tenants_instances(
    session: AsyncSession, runtime: Runtime, tenants: Sequence[Tenant], with_password: bool
) -> dict[uuid.UUID, InstanceRead]:
    """``tenant_instances``: each tenant's production instance as /instances shows it, in one
    statement for the whole page."""
    placed = await production_instances(session, [tenant.id for tenant in tenants])
    service = InstanceService(session, runtime)
    shown: dict[uuid.UUID, InstanceRead] = {}
    for tenant in tenants:
        if tenant.id in placed:
            instance, host = placed[tenant.id]
            summary = service.summary(instance, host, tenant.subdomain, with_password=with_password)
            shown[tenant.id] = InstanceRead.model_validate(summary)
    return shown
