"""Security events the platform did not record elsewhere, threats found in the signals, and
the IP block list.

Failed logins, lockouts and password resets are read from the audit trail, and refresh-token
reuse from the revoked login sessions (where they already are); this table holds only what
no other table keeps: requests refused by the rate limiter or the block list, and 404s on
tenant ids (security/middleware.py writes them).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core import clock
from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class SecurityEventType(enum.StrEnum):
    RATE_LIMITED = "rate_limited"
    TENANT_NOT_FOUND = "tenant_not_found"
    BLOCKED_REQUEST = "blocked_request"


class SecurityEvent(Base):
    """One request worth remembering for security: who, from where, on which path."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_type_occurred", "type", "occurred_at"),
        Index("ix_security_events_occurred", "occurred_at"),
    )

    # Never exposed: events are only counted.
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None]
    path: Mapped[str | None] = mapped_column(String(512))
    # How many requests this row stands for: a blocked IP's refusals are tallied in memory
    # and written as one row per IP and flush (security/middleware.py); others are 1.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class ThreatType(enum.StrEnum):
    BRUTE_FORCE = "brute_force"
    CREDENTIAL_STUFFING = "credential_stuffing"
    TOKEN_REUSE = "token_reuse"
    TENANT_ENUMERATION = "tenant_enumeration"


class ThreatSeverity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ThreatStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# A threat still running is updated, not filed again: at most one unresolved threat per
# (type, subject). The subject is what the attack is about (an IP, an email, a user id).
ACTIVE_THREAT_INDEX = "uq_threats_active_subject"


class Threat(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "threats"
    __table_args__ = (
        Index(
            ACTIVE_THREAT_INDEX,
            "type",
            "subject",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_threats_status_last_seen", "status", "last_seen_at"),
    )

    type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ThreatStatus.OPEN.value)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(320))
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None]


class BlockedIp(UUIDPrimaryKey, Timestamps, Base):
    """An address or network refused on every ``/api`` route until ``expires_at`` (never
    when null). Changes NOTIFY ``saas_security_blocklist`` (migration 0015), so every API
    process reloads its copy."""

    __tablename__ = "blocked_ips"

    # The network in canonical form ("203.0.113.7/32", "2001:db8::/64"): one row per network.
    network: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    threat_id: Mapped[uuid.UUID | None]


class ScanStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class SecurityScan(UUIDPrimaryKey, Timestamps, Base):
    """One check of a tenant's Odoo and host (security/scans.py); ``findings`` is a list of
    ``{check, severity, title, evidence, fix}``."""

    __tablename__ = "security_scans"
    __table_args__ = (Index("ix_security_scans_tenant_created", "tenant_id", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ScanStatus.PENDING.value)
    # scheduled (the weekly job) or manual.
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
