from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime


class MoveCatchUp(Schema):
    mode: Literal["tables", "full"] = Field(
        description="`tables`: only the tables written since the copy made while the source "
        "still served; `full`: the whole database copied while logins were refused."
    )
    tables: list[str] = Field(description="The tables copied again (mode `tables`).")
    reason: str | None = Field(description="Why the whole database was copied (mode `full`).")


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
    catch_up: MoveCatchUp | None = Field(
        default=None,
        description="How the target copy was brought up to date while logins were refused.",
    )
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    completed_at: UTCDateTime | None


class MoveActionRequest(RequestSchema):
    action: Literal["retry"]
    reason: str | None = Field(default=None, max_length=500)
