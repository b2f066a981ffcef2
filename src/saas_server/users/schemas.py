from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AliasChoices, EmailStr, Field, computed_field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime


class UserRead(Schema):
    id: uuid.UUID
    # Stored emails were validated on the way in; checking them again on every answer
    # cost a tenth of an authenticated request. The schema still says what it is.
    email: str = Field(json_schema_extra={"format": "email"})
    full_name: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    email_verified: bool
    email_verified_at: UTCDateTime | None = None
    last_login: UTCDateTime | None = Field(default=None, validation_alias="last_login_at")
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")
    tenant_limit: int | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name(self) -> str:
        """Seed 003 calls the display name ``name``."""
        return self.full_name

    @computed_field  # type: ignore[prop-decorator]
    @property
    def roles(self) -> list[str]:
        """Seed 003 gives roles as a list."""
        return [self.role]


class UserCreate(RequestSchema):
    email: EmailStr
    # Without a password the user gets a mail to choose one.
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    full_name: str | None = Field(
        default=None, max_length=200, validation_alias=AliasChoices("full_name", "name")
    )
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    role: Literal["admin", "user"] | None = None
    roles: list[str] | None = None
    is_active: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Tenant admins create users into one of their tenants.
    tenant_id: uuid.UUID | None = None
    tenant_role: Literal["admin", "member"] = "member"

    def platform_role(self) -> str | None:
        if self.role is not None:
            return self.role
        if self.roles is not None:
            return "admin" if "admin" in self.roles else "user"
        return None


class UserUpdate(RequestSchema):
    email: EmailStr | None = None
    full_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        validation_alias=AliasChoices("full_name", "name"),
    )
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    role: Literal["admin", "user"] | None = None
    roles: list[str] | None = None
    is_active: bool | None = None
    metadata: dict[str, Any] | None = None
    tenant_limit: int | None = Field(default=None, ge=0, le=10_000)

    def platform_role(self) -> str | None:
        if self.role is not None:
            return self.role
        if self.roles is not None:
            return "admin" if "admin" in self.roles else "user"
        return None


class UserTenantRead(Schema):
    id: uuid.UUID
    name: str
    subdomain: str
    domain: str
    tier: str
    status: str
    is_active: bool
    role: str
    owner_id: uuid.UUID | None
    created_at: UTCDateTime
