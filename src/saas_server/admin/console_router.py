"""The admin console API: platform figures and every user, tenant and instance.

Kept apart from ``router.py`` (the operators' actions on a tenant) so each stays small."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Request

from saas_server.admin import console, maintenance
from saas_server.admin.platform_metrics import platform_metrics
from saas_server.admin.schemas import (
    AdminInstanceRead,
    AdminTenantRead,
    AdminUserRead,
    MaintenanceRead,
    MaintenanceUpdate,
    PlatformStats,
)
from saas_server.admin.stats import platform_stats
from saas_server.auth.dependencies import PlatformAdmin
from saas_server.core import clock
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.pagination import ListParamsDep, Page
from saas_server.core.routing import PrefixedRouter
from saas_server.instances.models import InstanceStatus
from saas_server.tenants.models import TenantStatus, TenantTier
from saas_server.users import service as users
from saas_server.users.models import PlatformRole

router = PrefixedRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/stats", response_model=PlatformStats)
async def stats(
    principal: PlatformAdmin, session: SessionDep, runtime: RuntimeDep
) -> PlatformStats:
    currency = runtime.settings.billing_reporting_currency
    return PlatformStats.model_validate(await platform_stats(session, currency))


@router.get("/metrics/platform")
async def metrics_platform(
    principal: PlatformAdmin, session: SessionDep, request: Request
) -> dict[str, Any]:
    """Tenants by status, tier, version and host; hosts against capacity; active users; the
    job queue; this process's API rates and latency; backups."""
    return await platform_metrics(
        session, request.app.state.metrics.registry, request.app.state.started_monotonic
    )


@router.get("/users", response_model=Page[AdminUserRead])
async def admin_users(
    principal: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    role: PlatformRole | None = None,
    is_active: bool | None = None,
    email_verified: bool | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[AdminUserRead]:
    return await console.list_users(
        session,
        params,
        role=role.value if role else None,
        is_active=is_active,
        email_verified=email_verified,
        date_from=date_from,
        date_to=date_to,
    )


@router.get("/tenants", response_model=Page[AdminTenantRead])
async def admin_tenants(
    principal: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    status: TenantStatus | None = None,
    tier: TenantTier | None = None,
    host_id: uuid.UUID | None = None,
    odoo_version: str | None = None,
    owner_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[AdminTenantRead]:
    return await console.list_tenants(
        session,
        params,
        status=status.value if status else None,
        tier=tier.value if tier else None,
        host_id=host_id,
        odoo_version=odoo_version,
        owner_id=owner_id,
        is_active=is_active,
        date_from=date_from,
        date_to=date_to,
    )


@router.get("/instances", response_model=Page[AdminInstanceRead])
async def admin_instances(
    principal: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    status: InstanceStatus | None = None,
    kind: str | None = None,
    host_id: uuid.UUID | None = None,
    odoo_version: str | None = None,
    tenant_id: uuid.UUID | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[AdminInstanceRead]:
    return await console.list_instances(
        session,
        params,
        status=status.value if status else None,
        kind=kind,
        host_id=host_id,
        odoo_version=odoo_version,
        tenant_id=tenant_id,
        date_from=date_from,
        date_to=date_to,
    )


def maintenance_read(state: maintenance.MaintenanceState) -> MaintenanceRead:
    return MaintenanceRead(
        enabled=state.enabled,
        active=state.active(clock.now()),
        message=state.message,
        until=state.until,
        updated_at=state.updated_at,
    )


@router.get("/maintenance", response_model=MaintenanceRead)
async def get_maintenance(principal: PlatformAdmin, session: SessionDep) -> MaintenanceRead:
    return maintenance_read(await maintenance.read_state(session))


@router.post("/maintenance", response_model=MaintenanceRead)
async def set_maintenance(
    body: MaintenanceUpdate, principal: PlatformAdmin, session: SessionDep, client: ClientDep
) -> MaintenanceRead:
    actor = await users.get_user(session, principal.user.id)
    state = await maintenance.set_state(
        session,
        actor,
        enabled=body.enabled,
        message=body.message,
        until=body.until,
        client=client,
    )
    return maintenance_read(state)
