"""The /logs API: ``GET /api/v1/audit/logs``, the audit trail as its readers may see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from saas_server.audit import checkpoints
from saas_server.audit.models import AuditEntry
from saas_server.auth.dependencies import CurrentPrincipal, PlatformAdmin
from saas_server.core import clock
from saas_server.core.deps import RuntimeDep, SessionDep
from saas_server.core.errors import Conflict
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.logs.schemas import (
    AuditActor,
    AuditEntryRead,
    AuditLogQuery,
    AuditVerification,
    ChainBreakRead,
)
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


@router.post("/verify", response_model=AuditVerification)
async def verify_audit_chain(_: PlatformAdmin, runtime: RuntimeDep) -> AuditVerification:
    """Walk the whole audit chain (platform admins): every entry's hash and link, its MAC,
    and the signed checkpoints of the head (what ``saas audit verify`` does). A chain found
    intact is checkpointed again. Changes no entry."""
    async with runtime.db.sessionmaker() as session:
        # One snapshot for the whole walk, while appends go on.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            anchored = await checkpoints.verify(session, checkpoints.CheckpointFile.of(runtime))
        except checkpoints.CheckpointFileTampered as exc:
            raise Conflict(f"The audit checkpoints cannot be trusted: {exc}.") from exc
    report, broken = anchored.chain, anchored.broken
    return AuditVerification(
        intact=broken is None,
        checked=report.checked,
        last_seq=report.last_seq,
        last_hash=report.last_hash,
        checkpoints=anchored.checkpoints,
        broken=ChainBreakRead(seq=broken.seq, id=broken.id, problem=broken.problem)
        if broken
        else None,
        checked_at=clock.now(),
    )
