"""The admin console's lists: every user, tenant and instance, with filters and overviews.

Read-only; the caller owns the session. Platform admins only (the router checks)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.admin.schemas import (
    AdminInstanceRead,
    AdminTenantRead,
    AdminUserRead,
    HostRef,
    OwnerRef,
)
from saas_server.backups.models import Backup
from saas_server.billing import service as billing
from saas_server.core.errors import ValidationFailed
from saas_server.core.pagination import ListParams, ListSpec, Page, apply_filters, paginate
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.models import Instance
from saas_server.monitoring import service as monitoring
from saas_server.tenants.models import Membership, Tenant
from saas_server.users.models import User
from saas_server.users.schemas import UserRead

TENANT_COUNT = (
    select(func.count())
    .select_from(Membership)
    .where(Membership.user_id == User.id)
    .correlate(User)
    .scalar_subquery()
)

USER_LIST = ListSpec(
    ordering_fields={
        "created_at": User.created_at,
        "email": User.email,
        "full_name": User.full_name,
        "last_login": User.last_login_at,
        "role": User.role,
        "tenant_count": TENANT_COUNT,
    },
    search_fields=(User.email, User.full_name, User.first_name, User.last_name),
    tiebreaker=User.id,
)

# The tenant's production instance: the newest one, as instances.production_instance.
PRODUCTION_INSTANCE_ID = (
    select(Instance.id)
    .where(Instance.tenant_id == Tenant.id, Instance.kind == "production")
    .order_by(Instance.created_at.desc())
    .limit(1)
    .correlate(Tenant)
    .scalar_subquery()
)

TENANT_LIST = ListSpec(
    ordering_fields={
        "created_at": Tenant.created_at,
        "name": Tenant.name,
        "subdomain": Tenant.subdomain,
        "status": Tenant.status,
        "tier": Tenant.tier,
        "owner": User.email,
        "host": OdooHost.name,
        "odoo_version": Instance.odoo_version,
    },
    search_fields=(Tenant.name, Tenant.subdomain, User.email),
    tiebreaker=Tenant.id,
)

INSTANCE_LIST = ListSpec(
    ordering_fields={
        "created_at": Instance.created_at,
        "status": Instance.status,
        "database_name": Instance.database_name,
        "odoo_version": Instance.odoo_version,
        "ready_at": Instance.ready_at,
        "host": OdooHost.name,
        "tenant": Tenant.subdomain,
    },
    search_fields=(Instance.database_name, Tenant.subdomain, Tenant.name),
    tiebreaker=Instance.id,
)


def check_range(date_from: datetime | None, date_to: datetime | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed.for_field("date_from", "Must not be after date_to.")


def _in_range(
    stmt: Select, column: Any, date_from: datetime | None, date_to: datetime | None
) -> Select:
    check_range(date_from, date_to)
    if date_from is not None:
        stmt = stmt.where(column >= date_from)
    if date_to is not None:
        stmt = stmt.where(column <= date_to)
    return stmt


async def list_users(
    session: AsyncSession,
    params: ListParams,
    *,
    role: str | None,
    is_active: bool | None,
    email_verified: bool | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> Page[AdminUserRead]:
    stmt = apply_filters(
        select(User, TENANT_COUNT.label("tenant_count")),
        {User.role: role, User.is_active: is_active},
    )
    if email_verified is not None:
        verified = User.email_verified_at.is_not(None)
        stmt = stmt.where(verified if email_verified else ~verified)
    stmt = _in_range(stmt, User.created_at, date_from, date_to)

    def item(row: Any) -> AdminUserRead:
        base = UserRead.model_validate(row.User).model_dump()
        return AdminUserRead(**base, tenant_count=row.tenant_count)

    return await paginate(session, stmt, params, USER_LIST, item, rows=True)


async def list_tenants(
    session: AsyncSession,
    params: ListParams,
    *,
    status: str | None,
    tier: str | None,
    host_id: uuid.UUID | None,
    odoo_version: str | None,
    owner_id: uuid.UUID | None,
    is_active: bool | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> Page[AdminTenantRead]:
    stmt = (
        select(Tenant, User, Instance, OdooHost)
        .outerjoin(User, User.id == Tenant.owner_id)
        .outerjoin(Instance, Instance.id == PRODUCTION_INSTANCE_ID)
        .outerjoin(OdooHost, OdooHost.id == Instance.host_id)
    )
    stmt = apply_filters(
        stmt,
        {
            Tenant.status: status,
            Tenant.tier: tier,
            Instance.host_id: host_id,
            Instance.odoo_version: odoo_version,
            Tenant.owner_id: owner_id,
            Tenant.is_active: is_active,
        },
    )
    stmt = _in_range(stmt, Tenant.created_at, date_from, date_to)
    page = await paginate(session, stmt, params, TENANT_LIST, lambda row: row, rows=True)
    tenant_ids = [row.Tenant.id for row in page.results]
    latest = await monitoring.latest_values(session, tenant_ids)
    backups = await _last_backups(session, tenant_ids)
    subscriptions = await billing.subscription_statuses(session, tenant_ids)
    return Page[AdminTenantRead](
        count=page.count,
        next=page.next,
        previous=page.previous,
        results=[_tenant_item(row, latest, backups, subscriptions) for row in page.results],
    )


def _tenant_item(
    row: Any,
    latest: dict[uuid.UUID, dict[str, Any]],
    backups: dict[uuid.UUID, Backup],
    subscriptions: dict[uuid.UUID, str],
) -> AdminTenantRead:
    tenant: Tenant = row.Tenant
    owner: User | None = row.User
    instance: Instance | None = row.Instance
    host: OdooHost | None = row.OdooHost
    values = latest.get(tenant.id, {})
    backup = backups.get(tenant.id)

    def metric(name: str) -> int | None:
        point = values.get(name)
        return None if point is None else round(point["value"])

    return AdminTenantRead(
        id=tenant.id,
        name=tenant.name,
        subdomain=tenant.subdomain,
        status=tenant.status,
        tier=tenant.tier,
        is_active=tenant.is_active,
        owner=OwnerRef.model_validate(owner) if owner else None,
        host=HostRef.model_validate(host) if host else None,
        odoo_version=instance.odoo_version if instance else None,
        instance_id=instance.id if instance else None,
        instance_status=instance.status if instance else None,
        database_size_bytes=metric("database_size_bytes"),
        filestore_size_bytes=metric("filestore_size_bytes"),
        active_odoo_users=metric("active_users"),
        last_backup_at=backup.created_at if backup else None,
        last_backup_status=backup.status if backup else None,
        subscription_status=subscriptions.get(tenant.id),
        created_at=tenant.created_at,
    )


async def _last_backups(
    session: AsyncSession, tenant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Backup]:
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(Backup)
        .where(Backup.tenant_id.in_(tenant_ids))
        .ext(distinct_on(Backup.tenant_id))
        .order_by(Backup.tenant_id, Backup.created_at.desc())
    )
    return {backup.tenant_id: backup for backup in rows.scalars()}


async def list_instances(
    session: AsyncSession,
    params: ListParams,
    *,
    status: str | None,
    kind: str | None,
    host_id: uuid.UUID | None,
    odoo_version: str | None,
    tenant_id: uuid.UUID | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> Page[AdminInstanceRead]:
    stmt = (
        select(Instance, Tenant, OdooHost)
        .join(Tenant, Tenant.id == Instance.tenant_id)
        .outerjoin(OdooHost, OdooHost.id == Instance.host_id)
    )
    stmt = apply_filters(
        stmt,
        {
            Instance.status: status,
            Instance.kind: kind,
            Instance.host_id: host_id,
            Instance.odoo_version: odoo_version,
            Instance.tenant_id: tenant_id,
        },
    )
    stmt = _in_range(stmt, Instance.created_at, date_from, date_to)

    def item(row: Any) -> AdminInstanceRead:
        instance: Instance = row.Instance
        host: OdooHost | None = row.OdooHost
        return AdminInstanceRead(
            id=instance.id,
            tenant_id=instance.tenant_id,
            tenant_subdomain=row.Tenant.subdomain,
            kind=instance.kind,
            status=instance.status,
            status_reason=instance.status_reason,
            host=HostRef.model_validate(host) if host else None,
            database_name=instance.database_name,
            odoo_version=instance.odoo_version,
            flow=instance.flow,
            step=instance.step,
            ready_at=instance.ready_at,
            created_at=instance.created_at,
        )

    return await paginate(session, stmt, params, INSTANCE_LIST, item, rows=True)
