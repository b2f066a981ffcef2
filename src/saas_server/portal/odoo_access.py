"""Reaching a tenant's Odoo: its live instance, its host's driver, its administrator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.runtime import Runtime
from saas_server.instances.hosts.drivers import driver_for
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance, InstanceStatus
from saas_server.odoo.driver import Credentials, OdooDriver
from saas_server.odoo.errors import OdooError


class OdooNotReady(OdooError):
    message = "The tenant's Odoo is not running"


@dataclass(frozen=True)
class TenantOdoo:
    tenant_id: uuid.UUID
    database: str
    admin: Credentials
    driver: OdooDriver


async def _instance(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Instance, OdooHost]:
    row = (
        await session.execute(
            select(Instance, OdooHost)
            .join(OdooHost, OdooHost.id == Instance.host_id)
            .where(
                Instance.tenant_id == tenant_id,
                Instance.kind == "production",
                Instance.status == InstanceStatus.READY.value,
            )
            .limit(1)
        )
    ).first()
    if row is None:
        raise OdooNotReady(
            details={"odoo_error": {"name": "NotReady", "message": "no ready instance"}}
        )
    return row[0], row[1]


@asynccontextmanager
async def tenant_odoo(
    session: AsyncSession, runtime: Runtime, tenant_id: uuid.UUID
) -> AsyncIterator[TenantOdoo]:
    """The tenant's Odoo for the length of the block (the driver is closed after)."""
    instance, host = await _instance(session, tenant_id)
    admin = Credentials(
        instance.admin_login, runtime.secrets.decrypt(instance.admin_password_encrypted)
    )
    driver = driver_for(runtime, host)
    try:
        yield TenantOdoo(tenant_id, instance.database_name, admin, driver)
    finally:
        await driver.close()
