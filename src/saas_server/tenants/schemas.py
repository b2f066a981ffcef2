from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AliasChoices, EmailStr, Field, model_validator

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime

Tier = Literal["starter", "professional", "enterprise"]
Role = Literal["owner", "admin", "member"]


# -- what a tenant shows of its databases ------------------------------------------------------
# Declared here, where it is asked for: instances answers it (tenants.hooks.tenant_instances)
# and its own routes (/instances) answer with the same schema (instances.schemas).


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


class TenantSettings(RequestSchema):
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)

    model_config = {"extra": "allow"}


class TenantCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    # Length and characters are checked by the service, so a breach is INVALID_SUBDOMAIN.
    # Seeds 002 and 003 call it ``domain`` (``acme.<base domain>`` names subdomain ``acme``).
    subdomain: str = Field(max_length=255, validation_alias=AliasChoices("subdomain", "domain"))
    tier: Tier = "starter"
    settings: TenantSettings = Field(default_factory=TenantSettings)
    contact_email: EmailStr | None = None
    billing_address: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    odoo_version: Literal["17.0", "18.0", "19.0"] | None = None
    # The Odoo administrator; the login defaults to the creator's email and the password
    # is generated when absent (kept encrypted, shown to owners only).
    admin_email: EmailStr | None = None
    admin_password: str | None = Field(default=None, min_length=8, max_length=128)
    # Seed 003 names the owner; a tenant is owned by its creator, so only the caller's id fits.
    owner_id: uuid.UUID | None = None


class TenantUpdate(RequestSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    subdomain: str | None = Field(
        default=None, max_length=255, validation_alias=AliasChoices("subdomain", "domain")
    )
    tier: Tier | None = None
    settings: TenantSettings | None = None
    contact_email: EmailStr | None = None
    billing_address: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, Any] | None = None
    is_active: bool | None = None

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True)
        if self.settings is not None:
            data["settings"] = self.settings.model_dump(exclude_none=True)
        return data


class TenantRead(Schema):
    id: uuid.UUID
    name: str
    subdomain: str
    domain: str
    tier: str
    status: str
    is_active: bool
    owner_id: uuid.UUID | None
    settings: dict[str, Any]
    contact_email: str | None
    billing_address: str | None
    metadata: dict[str, Any]
    member_count: int | None = None
    subscription_count: int | None = None
    limits: dict[str, Any] | None = None
    instance: InstanceRead | None = None
    # count, last backup (id, time, status, type), next scheduled backup
    backups: dict[str, Any] | None = None
    # The latest sampled resource usage: {metric: {"value", "at"}} (monitoring)
    metrics: dict[str, Any] | None = None
    estimated_completion: UTCDateTime | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    deleted_at: UTCDateTime | None = None
    # A deleted tenant: until then its owners can read it and restore its pre-delete
    # backup into a new tenant, and its subdomain stays reserved.
    grace_ends_at: UTCDateTime | None = None


class MemberRead(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    full_name: str
    first_name: str
    last_name: str
    is_active: bool
    role: str
    joined_at: UTCDateTime


class MemberCreate(RequestSchema):
    email: EmailStr | None = None
    user_id: uuid.UUID | None = None
    role: Role = "member"

    @model_validator(mode="after")
    def _someone(self) -> MemberCreate:
        if self.email is None and self.user_id is None:
            raise ValueError("email or user_id is required")
        return self


class MemberUpdate(RequestSchema):
    role: Role


class OwnershipTransfer(RequestSchema):
    user_id: uuid.UUID


class InvitationRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: str
    status: str = "invited"
    expires_at: UTCDateTime
    created_at: UTCDateTime


class InvitationAccept(RequestSchema):
    token: str = Field(min_length=1, max_length=512)


class InvitationAccepted(Schema):
    tenant: TenantRead
    role: str
