from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime
from saas_server.events.service import EVENT_TYPES

MAX_EVENT_TYPES = len(EVENT_TYPES)


def _known_types(value: list[str]) -> list[str]:
    if not value:
        raise ValueError('List at least one event type, or ["*"] for all')
    unknown = [t for t in value if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"Unknown event type(s): {', '.join(unknown)}; known: * or {', '.join(EVENT_TYPES)}"
        )
    if "*" in value and len(value) > 1:
        raise ValueError('"*" already means every type; list it alone')
    return list(dict.fromkeys(value))


class EndpointCreate(RequestSchema):
    url: str = Field(max_length=2048)
    events: list[str] = Field(min_length=1, max_length=MAX_EVENT_TYPES + 1)
    description: str = Field(default="", max_length=500)
    tenant_id: uuid.UUID | None = None

    _check_events = field_validator("events")(_known_types)


class EndpointUpdate(RequestSchema):
    url: str | None = Field(default=None, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EVENT_TYPES + 1)
    description: str | None = Field(default=None, max_length=500)
    status: Literal["active", "disabled"] | None = None

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_types(value)


class EndpointRead(Schema):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    tenant_id: uuid.UUID | None
    owner_id: uuid.UUID
    status: str
    disabled_reason: str | None
    failing_since: UTCDateTime | None
    created_at: UTCDateTime
    updated_at: UTCDateTime


class EndpointWithSecret(EndpointRead):
    secret: str = Field(description="The signing secret, whsec_...: shown this once.")


class RotatedSecret(Schema):
    secret: str = Field(description="The new signing secret, shown this once.")
    previous_secret_expires_at: UTCDateTime


class ReplayRequest(RequestSchema):
    since: datetime
    until: datetime | None = None


class ReplayResult(Schema):
    queued: int


class AttemptRead(Schema):
    id: uuid.UUID
    attempted_at: UTCDateTime
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    next_retry_at: UTCDateTime | None


class DeliveryRead(Schema):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID | None
    message_id: str
    event_type: str
    origin: str
    status: str
    attempt_count: int
    last_status_code: int | None
    next_attempt_at: UTCDateTime | None
    created_at: UTCDateTime
    completed_at: UTCDateTime | None
    attempts: list[AttemptRead] = []
