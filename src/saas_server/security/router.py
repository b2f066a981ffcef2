"""Security monitoring for platform admins: signals, threats, the IP block list."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select

from saas_server.auth.dependencies import CurrentPrincipal, PlatformAdmin
from saas_server.core import clock
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.ids import parse_id
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.security import blocklist, scans, signals, threats
from saas_server.security.lifecycle import ThreatAction
from saas_server.security.models import (
    BlockedIp,
    ScanStatus,
    SecurityScan,
    Threat,
    ThreatSeverity,
    ThreatStatus,
    ThreatType,
)
from saas_server.security.schemas import (
    BlockedIpCreate,
    BlockedIpRead,
    HourlySignals,
    ScanCreate,
    ScanRead,
    SecurityMetricsRead,
    ThreatActionRequest,
    ThreatRead,
)
from saas_server.tenants.service import TenantNotFound, TenantService
from saas_server.users import service as users

router = PrefixedRouter(prefix="/api/v1/security", tags=["security"])

THREAT_LIST = ListSpec(
    ordering_fields={
        "created_at": Threat.created_at,
        "last_seen_at": Threat.last_seen_at,
        "first_seen_at": Threat.first_seen_at,
        "event_count": Threat.event_count,
        "severity": Threat.severity,
        "status": Threat.status,
        "type": Threat.type,
    },
    default_ordering="-last_seen_at",
    search_fields=(Threat.subject, Threat.source_ip, Threat.account),
    tiebreaker=Threat.id,
)
BLOCKED_LIST = ListSpec(
    ordering_fields={
        "created_at": BlockedIp.created_at,
        "expires_at": BlockedIp.expires_at,
        "ip": BlockedIp.network,
    },
    search_fields=(BlockedIp.network, BlockedIp.reason),
    tiebreaker=BlockedIp.id,
)


@router.get("/metrics", response_model=SecurityMetricsRead)
async def security_metrics(
    _admin: PlatformAdmin,
    session: SessionDep,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> SecurityMetricsRead:
    """Each security signal per hour over the range (default: the last 24 hours), with the
    IPs and accounts behind most of them."""
    found = await signals.security_metrics(session, date_from, date_to)
    return SecurityMetricsRead(
        date_from=found.date_from,
        date_to=found.date_to,
        totals=found.totals,
        series=[HourlySignals(**row) for row in found.hourly],
        top_ips=found.top_ips,
        top_accounts=found.top_accounts,
        blocked_ips=found.blocked_ips,
    )


@router.get("/threats", response_model=Page[ThreatRead])
async def list_threats(
    _admin: PlatformAdmin,
    session: SessionDep,
    params: ListParamsDep,
    status_: Annotated[ThreatStatus | None, Query(alias="status")] = None,
    severity: ThreatSeverity | None = None,
    type_: Annotated[ThreatType | None, Query(alias="type")] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Page[ThreatRead]:
    stmt: Select = apply_filters(
        select(Threat),
        {
            Threat.status: status_.value if status_ else None,
            Threat.severity: severity.value if severity else None,
            Threat.type: type_.value if type_ else None,
        },
    )
    if date_from is not None:
        stmt = stmt.where(Threat.last_seen_at >= clock.as_utc(date_from))
    if date_to is not None:
        stmt = stmt.where(Threat.first_seen_at <= clock.as_utc(date_to))
    return await paginate(session, stmt, params, THREAT_LIST, ThreatRead.model_validate)


@router.get("/threats/{threat_id}", response_model=ThreatRead)
async def get_threat(threat_id: str, _admin: PlatformAdmin, session: SessionDep) -> ThreatRead:
    found = await session.get(Threat, parse_id(threat_id, threats.ThreatNotFound))
    if found is None:
        raise threats.ThreatNotFound()
    return ThreatRead.model_validate(found)


@router.post("/threats/{threat_id}/actions", response_model=ThreatRead)
async def threat_action(
    threat_id: str,
    body: ThreatActionRequest,
    admin: PlatformAdmin,
    session: SessionDep,
    client: ClientDep,
) -> ThreatRead:
    """`acknowledge`, `resolve`, or `block_ip` (the threat's source IP, for
    `duration_seconds` or until unblocked)."""
    threat = await threats.get_threat(session, parse_id(threat_id, threats.ThreatNotFound))
    if body.action == "block_ip":
        if not threat.source_ip:
            raise threats.NoSourceIp()
        await blocklist.block_ip(
            session,
            blocklist.parse_network(threat.source_ip),
            duration=timedelta(seconds=body.duration_seconds) if body.duration_seconds else None,
            reason=body.note or f"{threat.type} threat {threat.id}",
            actor_id=admin.user.id,
            client=client,
            threat_id=threat.id,
        )
    else:
        await threats.change_status(
            session, threat, ThreatAction(body.action), admin.user.id, client, body.note
        )
    await session.refresh(threat)
    return ThreatRead.model_validate(threat)


def blocked_read(blocked: BlockedIp) -> BlockedIpRead:
    return BlockedIpRead(
        id=blocked.id,
        ip=blocked.network,
        reason=blocked.reason,
        expires_at=blocked.expires_at,
        threat_id=blocked.threat_id,
        created_at=blocked.created_at,
        updated_at=blocked.updated_at,
    )


@router.get("/blocked-ips", response_model=Page[BlockedIpRead])
async def list_blocked_ips(
    _admin: PlatformAdmin, session: SessionDep, params: ListParamsDep
) -> Page[BlockedIpRead]:
    """The blocks in force now (expired ones are not listed)."""
    stmt = select(BlockedIp).where(blocklist.active_blocks())
    return await paginate(session, stmt, params, BLOCKED_LIST, blocked_read)


@router.post("/blocked-ips", status_code=status.HTTP_201_CREATED, response_model=BlockedIpRead)
async def create_blocked_ip(
    body: BlockedIpCreate, admin: PlatformAdmin, session: SessionDep, client: ClientDep
) -> BlockedIpRead:
    blocked = await blocklist.block_ip(
        session,
        blocklist.parse_network(body.ip),
        duration=timedelta(seconds=body.duration_seconds) if body.duration_seconds else None,
        reason=body.reason,
        actor_id=admin.user.id,
        client=client,
    )
    return blocked_read(blocked)


@router.delete("/blocked-ips/{blocked_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_blocked_ip(
    blocked_id: str, admin: PlatformAdmin, session: SessionDep, client: ClientDep
) -> None:
    await blocklist.unblock_ip(
        session, parse_id(blocked_id, blocklist.BlockedIpNotFound), admin.user.id, client
    )


SCAN_LIST = ListSpec(
    ordering_fields={
        "created_at": SecurityScan.created_at,
        "completed_at": SecurityScan.completed_at,
        "status": SecurityScan.status,
    },
    tiebreaker=SecurityScan.id,
)


@router.post("/scans", status_code=status.HTTP_202_ACCEPTED, response_model=ScanRead)
async def request_scan(
    body: ScanCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> JSONResponse:
    """Scan a tenant's Odoo and host (its owners and admins, platform admins): 202 and a job;
    follow it at `GET /api/v1/security/scans/{id}`."""
    actor = await users.get_user(session, principal.user.id)
    access = await TenantService(session, runtime, client).access(
        actor, scans_tenant_id(body.tenant_id)
    )
    access.require_manager()
    scan = await scans.request_scan(
        session, access.tenant, trigger="manual", actor_id=actor.id, client=client
    )
    return JSONResponse(
        ScanRead.model_validate(scan).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


def scans_tenant_id(raw: str) -> uuid.UUID:
    return parse_id(raw, TenantNotFound)


@router.get("/scans", response_model=Page[ScanRead])
async def list_scans(
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListParamsDep,
    tenant_id: str | None = None,
    status_: Annotated[ScanStatus | None, Query(alias="status")] = None,
) -> Page[ScanRead]:
    """Platform admins: every scan; others: the scans of the tenants they own or administer."""
    stmt = apply_filters(
        scans.visible_scans(principal.user),
        {
            SecurityScan.tenant_id: scans_tenant_id(tenant_id) if tenant_id else None,
            SecurityScan.status: status_.value if status_ else None,
        },
    )
    return await paginate(session, stmt, params, SCAN_LIST, ScanRead.model_validate)


@router.get("/scans/{scan_id}", response_model=ScanRead)
async def get_scan(scan_id: str, principal: CurrentPrincipal, session: SessionDep) -> ScanRead:
    scan = await scans.get_scan(session, principal.user, parse_id(scan_id, scans.ScanNotFound))
    return ScanRead.model_validate(scan)
