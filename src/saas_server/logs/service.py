"""Reading the audit trail: which entries a caller may see, filtered (the /logs API).

The trail is written, sealed and verified in ``audit/``, which knows nothing of tenants;
who may read which tenant's entries is the tenants' rule (``tenants.rules``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit.models import AuditEntry
from saas_server.core.errors import Forbidden
from saas_server.core.pagination import apply_filters
from saas_server.tenants.rules import managed_tenant_ids
from saas_server.tenants.service import TenantNotFound
from saas_server.users.models import User


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    resource_type: str | None = None
    user_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    # Both bounds inclusive.
    date_from: datetime | None = None
    date_to: datetime | None = None


async def visible_entries(session: AsyncSession, actor: User, filters: AuditFilters) -> Select:
    """Rows of (entry, actor's id, actor's email) ``actor`` may read, filtered.

    Platform admins read every entry. Owners and admins of tenants read those tenants'
    entries; anyone else is refused (403), and a tenant they do not manage is unknown (404).
    """
    stmt = select(AuditEntry, User.id, User.email).outerjoin(User, User.id == AuditEntry.user_id)
    if not actor.is_platform_admin:
        # A deleted tenant's trail outlives it: its managers still read it.
        managed = await managed_tenant_ids(session, actor.id, include_gone=True)
        if not managed:
            raise Forbidden(
                "Only platform admins and tenant owners or admins may read the audit log"
            )
        if filters.tenant_id is not None and filters.tenant_id not in managed:
            raise TenantNotFound()
        if filters.tenant_id is None:
            stmt = stmt.where(AuditEntry.tenant_id.in_(sorted(managed)))
    stmt = apply_filters(
        stmt,
        {
            AuditEntry.action: filters.action,
            AuditEntry.resource_type: filters.resource_type,
            AuditEntry.user_id: filters.user_id,
            AuditEntry.tenant_id: filters.tenant_id,
        },
    )
    if filters.date_from is not None:
        stmt = stmt.where(AuditEntry.timestamp >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(AuditEntry.timestamp <= filters.date_to)
    return stmt


def end_of_day(day: date) -> datetime:
    """The last microsecond of ``day`` in UTC (an inclusive upper bound for a whole day)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) - timedelta(microseconds=1)
