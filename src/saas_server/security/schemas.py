from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime

# A block is for at most a year; longer ones are permanent blocks (no duration).
MAX_BLOCK_SECONDS = 366 * 24 * 3600


class HourlySignals(Schema):
    hour: UTCDateTime
    failed_logins: int
    lockouts: int
    password_reset_requests: int
    password_resets: int
    token_reuse: int
    rate_limited: int
    tenant_not_found: int
    blocked_requests: int


class IpCount(Schema):
    ip: str
    count: int


class AccountCount(Schema):
    account: str
    count: int


class SecurityMetricsRead(Schema):
    date_from: UTCDateTime
    date_to: UTCDateTime
    granularity: Literal["hour"] = "hour"
    totals: dict[str, int]
    series: list[HourlySignals]
    top_ips: list[IpCount]
    top_accounts: list[AccountCount]
    blocked_ips: int = Field(description="Addresses and networks blocked now.")


class ThreatRead(Schema):
    id: uuid.UUID
    type: str
    severity: str
    status: str
    subject: str
    source_ip: str | None
    account: str | None
    event_count: int
    first_seen_at: UTCDateTime
    last_seen_at: UTCDateTime
    details: dict[str, Any]
    acknowledged_at: UTCDateTime | None
    resolved_at: UTCDateTime | None
    created_at: UTCDateTime
    updated_at: UTCDateTime


class ThreatActionRequest(RequestSchema):
    action: Literal["acknowledge", "resolve", "block_ip"]
    # block_ip only: how long the block lasts; absent, until it is removed.
    duration_seconds: int | None = Field(default=None, ge=1, le=MAX_BLOCK_SECONDS)
    note: str | None = Field(default=None, max_length=500)


class BlockedIpCreate(RequestSchema):
    ip: str = Field(max_length=64, description="An address or a network (CIDR).")
    duration_seconds: int | None = Field(default=None, ge=1, le=MAX_BLOCK_SECONDS)
    reason: str | None = Field(default=None, max_length=500)


class BlockedIpRead(Schema):
    id: uuid.UUID
    ip: str = Field(description="The blocked network, canonical (`203.0.113.7/32`).")
    reason: str | None
    expires_at: UTCDateTime | None
    threat_id: uuid.UUID | None
    created_at: UTCDateTime
    updated_at: UTCDateTime


class DetectionRead(Schema):
    filed: list[dict[str, Any]]
    updated: list[dict[str, Any]]


class ScanCreate(RequestSchema):
    tenant_id: str = Field(max_length=64)


class ScanFinding(Schema):
    check: str
    severity: str
    title: str
    evidence: str
    fix: str


class ScanRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    status: str
    trigger: str
    findings: list[ScanFinding]
    error: str | None
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    completed_at: UTCDateTime | None
