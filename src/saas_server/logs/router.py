"""The /logs API: ``GET /api/v1/audit/logs``, the audit trail as its readers may see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from saas_server.audit.models import AuditEntry
from saas_server.auth.dependencies import CurrentPrincipal
from saas_server.core.deps import SessionDep
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.logs.schemas import AuditActor, AuditEntryRead, AuditLogQuery
from saas_server.logs.service import visible_entries

router = PrefixedRouter(prefix="/api/v1/audit", tags=["audit"])

AUDIT_LIST = ListSpec(
    ordering_fields={
        "timestamp": AuditEntry.timestamp,
        "created_at": AuditEntry.timestamp,
        "action": AuditEntry.action,
    },
    default_ordering="-timestamp",
    search_fields=(AuditEntry.action, AuditEntry.resource_type),
    # The chain's order: entries of one microsecond keep the order they were recorded in.
    tiebreaker=AuditEntry.seq,
)


def entry_read(row: Any) -> AuditEntryRead:
    entry, actor_id, actor_email = row
    return AuditEntryRead(
        id=entry.id,
        user=AuditActor(id=actor_id, email=actor_email) if actor_id is not None else None,
        user_id=entry.user_id,
        tenant_id=entry.tenant_id,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        old_values=entry.old_values,
        new_values=entry.new_values,
        ip_address=entry.ip_address,
        user_agent=entry.user_agent,
        request_id=entry.request_id,
        timestamp=entry.timestamp,
        hash=entry.hash,
        prev_hash=entry.prev_hash,
    )


@router.get("/logs", response_model=Page[AuditEntryRead])
async def list_logs(
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListParamsDep,
    query: Annotated[AuditLogQuery, Query()],
) -> Page[AuditEntryRead]:
    """Audit entries, newest first. Platform admins see all; tenant owners and admins see
    their tenants' entries."""
    stmt = await visible_entries(session, principal.user, query.filters())
    return await paginate(session, stmt, params, AUDIT_LIST, entry_read, rows=True)
