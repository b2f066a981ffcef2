from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime


class BackupRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    instance_id: uuid.UUID | None
    type: str
    status: str
    progress: int
    bytes_written: int
    size_bytes: int | None
    checksum: str | None = Field(description="SHA-256 of the archive, hex.")
    checksum_algorithm: str = "sha256"
    storage: str
    odoo_version: str
    database: str
    source: str
    reason: str | None
    error: dict[str, Any] | None
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    completed_at: UTCDateTime | None
    expires_at: UTCDateTime | None
    estimated_completion: UTCDateTime | None = None
    # Shown to the tenant's owners and admins, for a completed backup.
    download_url: str | None = None
    download_expires_at: UTCDateTime | None = None


class BackupCreate(RequestSchema):
    reason: str | None = Field(default=None, max_length=500)


class NewTenantTarget(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    subdomain: str = Field(min_length=1, max_length=63)
    tier: Literal["starter", "professional", "enterprise"] | None = None


class RestoreRequest(RequestSchema):
    # Absent: restore over the same tenant. Given: create this tenant and restore into it.
    new_tenant: NewTenantTarget | None = None


class RestoreRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    instance_id: uuid.UUID
    backup_id: uuid.UUID | None
    source_tenant_id: uuid.UUID | None
    pre_restore_backup_id: uuid.UUID | None
    status: str
    step: str | None
    progress: int
    as_copy: bool
    error: dict[str, Any] | None
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    completed_at: UTCDateTime | None
    estimated_completion: UTCDateTime | None = None
