"""What the admin console answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime
from saas_server.users.schemas import UserRead


class PlatformStats(Schema):
    total_users: int
    total_tenants: int
    active_instances: int
    # Seed 000's figure: paid invoices (less credit notes) in minor units of `currency`
    # (SAAS_BILLING_REPORTING_CURRENCY); every currency's own total beside it, never converted.
    total_revenue: int
    mrr: int
    currency: str
    total_revenue_by_currency: dict[str, int]
    mrr_by_currency: dict[str, int]
    signups: dict[str, int]
    tenants_created: dict[str, int]
    failed_provisionings: int
    backups_failed_24h: int


class AdminUserRead(UserRead):
    tenant_count: int


class OwnerRef(Schema):
    id: uuid.UUID
    email: str
    full_name: str


class HostRef(Schema):
    id: uuid.UUID
    name: str


class AdminTenantRead(Schema):
    id: uuid.UUID
    name: str
    subdomain: str
    status: str
    tier: str
    is_active: bool
    owner: OwnerRef | None
    host: HostRef | None
    odoo_version: str | None
    instance_id: uuid.UUID | None
    instance_status: str | None
    # Latest sampled values (monitoring); null until the tenant was first sampled.
    database_size_bytes: int | None
    filestore_size_bytes: int | None
    active_odoo_users: int | None
    last_backup_at: UTCDateTime | None
    last_backup_status: str | None
    # Null until billing is connected.
    subscription_status: str | None
    created_at: UTCDateTime


class AdminInstanceRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_subdomain: str
    kind: str
    status: str
    status_reason: str | None
    host: HostRef | None
    database_name: str
    odoo_version: str
    flow: str | None
    step: str | None
    ready_at: UTCDateTime | None
    created_at: UTCDateTime


class MaintenanceUpdate(RequestSchema):
    enabled: bool
    message: str | None = Field(default=None, max_length=1000)
    # When the platform expects to be back: sent as Retry-After while in maintenance.
    until: datetime | None = None


class MaintenanceRead(Schema):
    enabled: bool
    # On and not past ``until``: what every non-admin call sees now.
    active: bool
    message: str | None
    until: UTCDateTime | None
    updated_at: UTCDateTime | None
