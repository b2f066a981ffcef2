"""What the /logs API reads and answers: its filters and the entries it shows."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from saas_server.core.schemas import Schema, UTCDateTime
from saas_server.logs.service import AuditFilters, end_of_day


class AuditActor(Schema):
    id: uuid.UUID
    email: str


class AuditEntryRead(Schema):
    id: uuid.UUID
    user: AuditActor | None
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    timestamp: UTCDateTime
    hash: str = Field(description="sha256 of this entry's canonical form and prev_hash.")
    prev_hash: str = Field(description="The previous entry's hash (64 zeros for the first).")


def _parse_moment(value: Any) -> date | datetime:
    """An ISO date (``2026-01-31``) or datetime (``2026-01-31T12:00:00Z``)."""
    if isinstance(value, date):  # datetime included
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            "Must be an ISO 8601 date (2026-01-31) or datetime (2026-01-31T12:00:00Z)."
        ) from None


def _utc(moment: datetime) -> datetime:
    # A datetime without offset is read as UTC, the time zone of every timestamp shown.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class AuditLogQuery(BaseModel):
    """The filters of ``GET /api/v1/audit/logs`` (query parameters)."""

    model_config = ConfigDict(extra="ignore")

    action: str | None = Field(default=None, max_length=64)
    resource_type: str | None = Field(default=None, max_length=64)
    user_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    date_from: datetime | None = Field(
        default=None, description="From this date or datetime (inclusive); UTC if no offset."
    )
    date_to: datetime | None = Field(
        default=None,
        description="Up to this datetime, or to the end of this date (inclusive); UTC if no "
        "offset.",
    )

    @field_validator("date_from", mode="before")
    @classmethod
    def _start(cls, value: Any) -> datetime | None:
        if value is None:
            return None
        moment = _parse_moment(value)
        if isinstance(moment, datetime):
            return _utc(moment)
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)

    @field_validator("date_to", mode="before")
    @classmethod
    def _end(cls, value: Any) -> datetime | None:
        if value is None:
            return None
        moment = _parse_moment(value)
        if isinstance(moment, datetime):
            return _utc(moment)
        return end_of_day(moment)

    def filters(self) -> AuditFilters:
        return AuditFilters(**self.model_dump())


class ChainBreakRead(Schema):
    seq: int
    id: uuid.UUID | None = Field(description="The entry's id; null when the entry is missing.")
    problem: str


class AuditVerification(Schema):
    """The audit chain walked from its start against its hashes, MACs and checkpoints."""

    intact: bool
    checked: int = Field(description="Entries found intact (before the break, if any).")
    last_seq: int | None
    last_hash: str
    checkpoints: int = Field(description="Signed checkpoints of the chain's head matched.")
    broken: ChainBreakRead | None
    checked_at: UTCDateTime
