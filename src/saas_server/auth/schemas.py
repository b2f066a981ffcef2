from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AliasChoices, EmailStr, Field, model_validator

from saas_server.core.schemas import RequestSchema, Schema
from saas_server.users.schemas import UserRead


class RegisterRequest(RequestSchema):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    # Seed 002 sends ``password_confirm``; when present it must match.
    password_confirm: str | None = Field(default=None, max_length=1024)
    full_name: str | None = Field(
        default=None, max_length=200, validation_alias=AliasChoices("full_name", "name")
    )
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    # Seed 002: a tenant created in the same call (once the address is verified).
    tenant_name: str | None = Field(default=None, min_length=1, max_length=200)
    # Seed 002 calls it ``tenant_domain``.
    subdomain: str | None = Field(
        default=None, max_length=255, validation_alias=AliasChoices("subdomain", "tenant_domain")
    )

    @model_validator(mode="after")
    def _names_and_confirmation(self) -> RegisterRequest:
        if not (self.full_name or self.first_name or self.last_name):
            raise ValueError("full_name (or first_name and last_name) is required")
        if self.password_confirm is not None and self.password_confirm != self.password:
            raise ValueError("password_confirm does not match password")
        if (self.tenant_name is None) != (self.subdomain is None):
            raise ValueError("tenant_name and subdomain go together")
        return self


class SignupTenant(Schema):
    id: uuid.UUID | None = None
    name: str
    subdomain: str
    status: str


class RegisterResponse(UserRead):
    """The new user, and the tenant asked for in the same call (pending until verified)."""

    tenant: SignupTenant | None = None


class VerifyEmailResponse(Schema):
    message: str
    user: UserRead
    # Set when the registration asked for a tenant and it could be created now.
    tenant: SignupTenant | None = None


class LoginRequest(RequestSchema):
    # Seed 004: the subdomain of a tenant whose Odoo checks the credentials (a portal login).
    tenant: str | None = Field(default=None, min_length=1, max_length=63)
    email: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=320)
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.email or self.username):
            raise ValueError("email (or username) is required")
        return self

    @property
    def identifier(self) -> str:
        return (self.email or self.username or "").strip()


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserRead


class RefreshRequest(RequestSchema):
    refresh_token: str = Field(
        min_length=1, max_length=512, validation_alias=AliasChoices("refresh_token", "refresh")
    )


class LogoutRequest(RequestSchema):
    refresh_token: str | None = Field(
        default=None, max_length=512, validation_alias=AliasChoices("refresh_token", "refresh")
    )


class TokenRequest(RequestSchema):
    token: str = Field(min_length=1, max_length=512)


class EmailRequest(RequestSchema):
    email: EmailStr


class PasswordResetConfirm(RequestSchema):
    token: str = Field(min_length=1, max_length=512)
    new_password: str = Field(
        min_length=1, max_length=1024, validation_alias=AliasChoices("new_password", "password")
    )


class PasswordChange(RequestSchema):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class ProfileUpdate(RequestSchema):
    full_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        validation_alias=AliasChoices("full_name", "name"),
    )
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
