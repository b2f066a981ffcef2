from __future__ import annotations

import uuid
from typing import Annotated, Literal

import httpx
from pydantic import AfterValidator, Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime

Version = Literal["17.0", "18.0", "19.0"]


def _parsable_url(value: str) -> str:
    """The URL the platform will call: refused here when no HTTP client could parse it."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Not a usable URL: {exc}") from None
    if not url.host:
        raise ValueError("The URL needs a host name or address.")
    return value


HostUrl = Annotated[str, AfterValidator(_parsable_url)]


class HostCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=100)
    url: HostUrl = Field(min_length=1, max_length=500, pattern=r"^https?://")
    master_password: str = Field(min_length=1, max_length=500)
    odoo_version: Version
    capacity: int = Field(ge=1, le=100_000)
    postgres_url: str | None = Field(default=None, max_length=1000, pattern=r"^postgres(ql)?://")
    log_path: str | None = Field(
        default=None,
        max_length=1000,
        pattern=r"^/",
        description="Absolute path of the host's Odoo log file (Odoo's --logfile), readable by "
        "the platform: each tenant's log shows its database's lines.",
    )


class HostUpdate(RequestSchema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: HostUrl | None = Field(default=None, max_length=500, pattern=r"^https?://")
    master_password: str | None = Field(default=None, min_length=1, max_length=500)
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    postgres_url: str | None = Field(default=None, max_length=1000, pattern=r"^postgres(ql)?://")
    log_path: str | None = Field(default=None, max_length=1000, pattern=r"^/")


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
    log_path: str | None
    last_checked_at: UTCDateTime | None
    last_latency_ms: float | None
    last_error: str | None
    created_at: UTCDateTime
    updated_at: UTCDateTime
