"""Threat detection from the signals (security/signals.py), and what an operator does with a
threat.

Detection runs as a periodic job and as ``saas security detect``. Each rule groups the
recent events by the attack's subject (an IP, an account) and files a threat when a
threshold is crossed. It is idempotent: while a threat on a subject is unresolved, a run
updates it (its count since it was first seen, its last sighting) instead of filing a new
one, and events before a threat's resolution never file it again. Runs are serialised by an
advisory lock, so two workers never file the same threat twice.
"""

# The SQL below is assembled only from this module's constants; values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.audit import service as audit
from saas_server.core import clock
from saas_server.core.client import ClientInfo
from saas_server.core.errors import Conflict, NotFound
from saas_server.core.settings import Settings
from saas_server.events.service import SECURITY_THREAT_DETECTED, emit
from saas_server.security.lifecycle import THREAT, ThreatAction
from saas_server.security.models import (
    SecurityEventType,
    Threat,
    ThreatSeverity,
    ThreatStatus,
    ThreatType,
)
from saas_server.security.signals import TOKEN_REUSE_REASON

# Serialises detection runs (the audit chain's is 7_277_361_003).
DETECTION_LOCK_ID = 7_277_361_015
THREAT_DETECTED = SECURITY_THREAT_DETECTED
THREAT_ACKNOWLEDGED = "security.threat_acknowledged"
THREAT_RESOLVED = "security.threat_resolved"
# How many of the other side (accounts tried, IPs used, paths probed) a threat shows.
SAMPLE_SIZE = 20

_LOGIN_ATTEMPTS = f"""
    SELECT timestamp AS ts, ip_address AS ip, lower(new_values->>'email') AS email
    FROM audit_log
    WHERE action IN ('{audit.AUTH_LOGIN_FAILED}', '{audit.AUTH_LOGIN_LOCKED}')
      AND timestamp >= :earliest
"""

# Per threat type: the events as (ts, subject, other, ip, account).
_EVENTS: dict[ThreatType, str] = {
    ThreatType.BRUTE_FORCE: f"""
        SELECT ts, email AS subject, ip AS other, ip, email AS account
        FROM ({_LOGIN_ATTEMPTS}) a WHERE email IS NOT NULL""",
    ThreatType.CREDENTIAL_STUFFING: f"""
        SELECT ts, ip AS subject, email AS other, ip, NULL AS account
        FROM ({_LOGIN_ATTEMPTS}) a WHERE ip IS NOT NULL""",
    ThreatType.TOKEN_REUSE: f"""
        SELECT s.revoked_at AS ts, s.user_id::text AS subject, s.id::text AS other,
               s.ip_address AS ip, u.email AS account
        FROM auth_sessions s LEFT JOIN users u ON u.id = s.user_id
        WHERE s.revoked_reason = '{TOKEN_REUSE_REASON}' AND s.revoked_at >= :earliest""",
    ThreatType.TENANT_ENUMERATION: f"""
        SELECT e.occurred_at AS ts, e.user_id::text AS subject, e.path AS other,
               e.ip_address AS ip, u.email AS account
        FROM security_events e LEFT JOIN users u ON u.id = e.user_id
        WHERE e.type = '{SecurityEventType.TENANT_NOT_FOUND.value}' AND e.user_id IS NOT NULL
          AND e.occurred_at >= :earliest""",
}

# Events of each subject since its unresolved threat was first seen, or else since the
# window's start or its last threat's resolution, whichever is later.
_CANDIDATES = """
    WITH marks AS (
        SELECT subject,
               max(resolved_at) FILTER (WHERE status = 'resolved') AS resolved_at,
               min(first_seen_at) FILTER (WHERE status <> 'resolved') AS open_since
        FROM threats WHERE type = :type GROUP BY subject
    )
    SELECT e.subject, count(*) AS n, count(DISTINCT e.other) AS distinct_others,
           min(e.ts) AS first_seen, max(e.ts) AS last_seen,
           (array_agg(DISTINCT e.other))[1:{sample}] AS others,
           mode() WITHIN GROUP (ORDER BY e.ip) AS ip,
           max(e.account) AS account,
           bool_or(m.open_since IS NOT NULL) AS is_open
    FROM ({events}) e LEFT JOIN marks m ON m.subject = e.subject
    WHERE e.ts >= coalesce(m.open_since, greatest(:since, m.resolved_at))
    GROUP BY e.subject
"""


@dataclass
class DetectionReport:
    filed: list[Threat] = field(default_factory=list)
    updated: list[Threat] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "filed": [{"id": str(t.id), "type": t.type, "subject": t.subject} for t in self.filed],
            "updated": [
                {"id": str(t.id), "type": t.type, "subject": t.subject} for t in self.updated
            ],
        }


@dataclass(frozen=True)
class _Candidate:
    subject: str
    count: int
    distinct_others: int
    first_seen: datetime
    last_seen: datetime
    others: list[str]
    ip: str | None
    account: str | None
    is_open: bool


def _crosses(kind: ThreatType, found: _Candidate, settings: Settings) -> bool:
    if kind is ThreatType.BRUTE_FORCE:
        return found.count >= settings.security_brute_force_threshold
    if kind is ThreatType.CREDENTIAL_STUFFING:
        return (
            found.distinct_others >= settings.security_stuffing_accounts_threshold
            and found.count >= settings.security_stuffing_attempts_threshold
        )
    if kind is ThreatType.TENANT_ENUMERATION:
        return found.distinct_others >= settings.security_enumeration_threshold
    return found.count >= 1  # a reused refresh token is a leaked one


def _severity(kind: ThreatType, found: _Candidate, settings: Settings) -> ThreatSeverity:
    if kind is ThreatType.BRUTE_FORCE:
        heavy = found.count >= 5 * settings.security_brute_force_threshold
        return ThreatSeverity.HIGH if heavy else ThreatSeverity.MEDIUM
    if kind is ThreatType.CREDENTIAL_STUFFING:
        many = found.distinct_others >= 10 * settings.security_stuffing_accounts_threshold
        return ThreatSeverity.CRITICAL if many else ThreatSeverity.HIGH
    if kind is ThreatType.TOKEN_REUSE:
        return ThreatSeverity.HIGH
    return ThreatSeverity.MEDIUM


_OTHERS_NAME = {
    ThreatType.BRUTE_FORCE: "source_ips",
    ThreatType.CREDENTIAL_STUFFING: "accounts",
    ThreatType.TOKEN_REUSE: "session_ids",
    ThreatType.TENANT_ENUMERATION: "paths",
}


async def detect_threats(session: AsyncSession, settings: Settings) -> DetectionReport:
    """Run every rule once; file new threats and update running ones (the caller commits)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DETECTION_LOCK_ID})
    now = clock.now()
    since = now - timedelta(seconds=settings.security_detection_window_seconds)
    report = DetectionReport()
    for kind, events in _EVENTS.items():
        # The earliest event any rule may read: a running threat counts from its start.
        open_since = (
            await session.execute(
                text(
                    "SELECT min(first_seen_at) FROM threats "
                    "WHERE type = :type AND status <> 'resolved'"
                ),
                {"type": kind.value},
            )
        ).scalar_one()
        earliest = min(since, open_since) if open_since is not None else since
        rows = await session.execute(
            text(_CANDIDATES.format(events=events, sample=SAMPLE_SIZE)),
            {"type": kind.value, "since": since, "earliest": earliest},
        )
        for row in rows:
            found = _Candidate(
                subject=row.subject,
                count=row.n,
                distinct_others=row.distinct_others,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                others=sorted(o for o in (row.others or []) if o is not None),
                ip=row.ip,
                account=row.account,
                is_open=bool(row.is_open),
            )
            if found.is_open:
                report.updated.append(await _update(session, kind, found, settings))
            elif _crosses(kind, found, settings):
                report.filed.append(await _file(session, kind, found, settings))
    return report


def _details(kind: ThreatType, found: _Candidate) -> dict[str, Any]:
    return {_OTHERS_NAME[kind]: found.others, "distinct": found.distinct_others}


async def _file(
    session: AsyncSession, kind: ThreatType, found: _Candidate, settings: Settings
) -> Threat:
    threat = Threat(
        type=kind.value,
        subject=found.subject,
        severity=_severity(kind, found, settings).value,
        status=ThreatStatus.OPEN.value,
        source_ip=found.ip,
        account=found.account,
        event_count=found.count,
        first_seen_at=found.first_seen,
        last_seen_at=found.last_seen,
        details=_details(kind, found),
    )
    session.add(threat)
    await session.flush()
    await emit(session, THREAT_DETECTED, threat_summary(threat))
    return threat


async def _update(
    session: AsyncSession, kind: ThreatType, found: _Candidate, settings: Settings
) -> Threat:
    threat = (
        await session.execute(
            select(Threat)
            .where(
                Threat.type == kind.value,
                Threat.subject == found.subject,
                Threat.status != ThreatStatus.RESOLVED.value,
            )
            .with_for_update()
        )
    ).scalar_one()
    severity = _severity(kind, found, settings)
    order = list(ThreatSeverity)
    # A threat's severity only rises while it runs.
    if order.index(severity) > order.index(ThreatSeverity(threat.severity)):
        threat.severity = severity.value
    if threat.event_count != found.count:
        threat.event_count = found.count
    if threat.last_seen_at != found.last_seen:
        threat.last_seen_at = found.last_seen
    details = _details(kind, found)
    if threat.details != details:
        threat.details = details
    if found.ip and threat.source_ip != found.ip:
        threat.source_ip = found.ip
    return threat


def threat_summary(threat: Threat) -> dict[str, Any]:
    return {
        "id": str(threat.id),
        "type": threat.type,
        "severity": threat.severity,
        "status": threat.status,
        "source_ip": threat.source_ip,
        "account": threat.account,
        "event_count": threat.event_count,
    }


class ThreatNotFound(NotFound):
    code = "THREAT_NOT_FOUND"
    message = "Threat not found"


class NoSourceIp(Conflict):
    message = "This threat has no source IP to block"


async def get_threat(session: AsyncSession, threat_id: uuid.UUID) -> Threat:
    threat = await session.get(Threat, threat_id, with_for_update=True)
    if threat is None:
        raise ThreatNotFound()
    return threat


async def change_status(
    session: AsyncSession,
    threat: Threat,
    action: ThreatAction,
    actor_id: uuid.UUID,
    client: ClientInfo,
    note: str | None = None,
) -> Threat:
    """Acknowledge or resolve a threat along its table (409 when it does not allow it)."""
    before = threat.status
    THREAT.apply(threat, action)
    now = clock.now()
    if action is ThreatAction.ACKNOWLEDGE:
        threat.acknowledged_at, threat.acknowledged_by = now, actor_id
        name = THREAT_ACKNOWLEDGED
    else:
        threat.resolved_at, threat.resolved_by = now, actor_id
        name = THREAT_RESOLVED
    await session.flush()
    await audit.record(
        session,
        action=name,
        resource_type="threat",
        resource_id=threat.id,
        actor_id=actor_id,
        old_values={"status": before},
        new_values={"status": threat.status, "note": note},
        client=client,
    )
    return threat
