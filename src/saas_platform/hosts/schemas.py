from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from saas_platform.core.schemas import RequestSchema, Schema, UTCDateTime

Version = Literal["17.0", "18.0", "19.0"]


class HostCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=500, pattern=r"^https?://")
    master_password: str = Field(min_length=1, max_length=500)
    odoo_version: Version
    capacity: int = Field(ge=1, le=100_000)
    postgres_url: str | None = Field(default=None, max_length=1000, pattern=r"^postgres(ql)?://")


class HostUpdate(RequestSchema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    master_password: str | None = Field(default=None, min_length=1, max_length=500)
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    postgres_url: str | None = Field(default=None, max_length=1000, pattern=r"^postgres(ql)?://")


class HostAction(RequestSchema):
    action: Literal["drain", "activate", "check"]


class HostRead(Schema):
    """A host as admins see it. The master password and PostgreSQL URL are never shown."""

    id: uuid.UUID
    name: str
    url: str
    odoo_version: str
    server_version: str | None
    capacity: int
    status: str
    instance_count: int
    # Spare databases ready to become a tenant's (hosts/standby.py).
    standby_count: int
    is_emulator: bool
    has_postgres_url: bool
    last_checked_at: UTCDateTime | None
    last_latency_ms: float | None
    last_error: str | None
    created_at: UTCDateTime
    updated_at: UTCDateTime
