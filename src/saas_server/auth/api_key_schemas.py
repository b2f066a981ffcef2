from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import Field, field_validator

from saas_server.auth.scopes import SCOPES
from saas_server.core.schemas import RequestSchema, Schema


class ApiKeyCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES))
    # Confines the key to this tenant (one the caller belongs to).
    tenant_id: uuid.UUID | None = None
    expires_at: datetime | None = Field(
        default=None, description="When the key stops working; without a time zone, UTC."
    )

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        return value

    @field_validator("expires_at")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        # A script writing "2027-06-30T00:00:00" means a moment, not a 422: UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ApiKeyRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str  # the start of the key, to tell keys apart; never the key
    scopes: list[str]
    tenant_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself: shown this once, never again.")
