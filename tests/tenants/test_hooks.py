"""Tenants reach their databases only through the hooks they declare (tenants/hooks.py),
connected by wiring.wire(): the reactions happen in the tenant's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.hooks import HookNotConnected
from saas_server.core.runtime import Runtime
from saas_server.instances import service as instances
from saas_server.instances import tenant_reactions
from saas_server.instances.models import Instance
from saas_server.tenants import hooks
from saas_server.tenants.models import Tenant
from saas_server.tenants.service import TenantService
from saas_server.users.service import create_user
from saas_server.wiring import wire


class Rollback(Exception):
    pass


def test_wire_connects_every_tenant_hook_once() -> None:
    # The test process is wired (tests/conftest.py); wiring again changes nothing.
    wire()
    assert hooks.tenant_created.handlers == (tenant_reactions.create_production_instance,)
    assert hooks.tenant_tier_changed.handlers == (tenant_reactions.apply_tenant_tier,)
    assert hooks.tenant_deletion_requested.handlers == (
        tenant_reactions.delete_production_instance,
    )
    assert hooks.tenant_instances.provided and hooks.tenant_backups.provided


async def _provision_jobs(session: AsyncSession) -> int:
    result = await session.execute(
        text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task"),
        {"task": instances.PROVISION_TASK},
    )
    return int(result.scalar_one())


async def test_the_instance_and_its_job_commit_with_the_tenant_or_not_at_all(
    runtime: Runtime,
) -> None:
    async with runtime.db.transaction() as session:
        actor = await create_user(
            session, email="hooks@example.com", password=None, email_verified=True
        )
    with pytest.raises(Rollback):
        async with runtime.db.transaction() as session:
            actor = await session.merge(actor)
            tenant = await TenantService(session, runtime).create_tenant(
                actor, name="Hooked", subdomain="hooked"
            )
            # In the tenant's transaction: its production instance, its provisioning job.
            instance = await instances.production_instance(session, tenant.id)
            assert instance is not None and instance.database_name == "hooked"
            assert await _provision_jobs(session) == 1
            raise Rollback
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(func.count(Tenant.id)))).scalar_one() == 0
        assert (await session.execute(select(func.count(Instance.id)))).scalar_one() == 0
        assert await _provision_jobs(session) == 0


async def test_an_unwired_process_refuses_to_create_a_tenant(runtime: Runtime) -> None:
    """No handler for tenant_created is a wiring mistake, never a tenant without a database."""
    async with runtime.db.transaction() as session:
        actor = await create_user(
            session, email="unwired@example.com", password=None, email_verified=True
        )
    handler = tenant_reactions.create_production_instance
    hooks.tenant_created.disconnect(handler)
    try:
        with pytest.raises(HookNotConnected):
            async with runtime.db.transaction() as session:
                actor = await session.merge(actor)
                await TenantService(session, runtime).create_tenant(
                    actor, name="Unwired", subdomain="unwired"
                )
    finally:
        hooks.tenant_created.connect(handler)
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(func.count(Tenant.id)))).scalar_one() == 0
