from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime


class MoveRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    instance_id: uuid.UUID
    source_host_id: uuid.UUID | None
    target_host_id: uuid.UUID | None
    odoo_version: str
    source_database: str
    target_database: str | None
    status: str
    step: str | None = Field(description="The last completed step of the move flow.")
    attempts: int
    reason: str | None
    error: dict[str, Any] | None
    logins_refused_at: UTCDateTime | None
    logins_reopened_at: UTCDateTime | None
    login_refused_ms: int | None = Field(
        description="How long the tenant refused logins, measured by the move (milliseconds)."
    )
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    completed_at: UTCDateTime | None


class MoveActionRequest(RequestSchema):
    action: Literal["retry"]
    reason: str | None = Field(default=None, max_length=500)
