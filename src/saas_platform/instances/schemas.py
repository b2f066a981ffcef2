from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from saas_platform.core.schemas import RequestSchema, Schema, UTCDateTime


class HostRef(Schema):
    id: uuid.UUID
    name: str


class InstanceRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    status: str
    status_reason: str | None
    url: str | None
    database: str
    odoo_version: str
    host: HostRef | None
    admin_login: str
    # Shown to the tenant's owners only.
    admin_password: str | None = None
    step: str | None
    error: dict[str, Any] | None
    expires_at: UTCDateTime | None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    ready_at: UTCDateTime | None
    estimated_completion: UTCDateTime | None


class InstanceAction(RequestSchema):
    action: Literal["start", "stop", "restart", "retry"]
    reason: str | None = Field(default=None, max_length=500)


class TransitionRead(Schema):
    action: str
    from_status: str
    to_status: str
    reason: str | None
    at: UTCDateTime
