from __future__ import annotations

import uuid
from typing import Any

from pydantic import EmailStr, Field, computed_field

from saas_platform.core.schemas import Schema, UTCDateTime


class UserRead(Schema):
    id: uuid.UUID
    email: EmailStr
    full_name: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    email_verified: bool
    email_verified_at: UTCDateTime | None = None
    last_login: UTCDateTime | None = Field(default=None, validation_alias="last_login_at")
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")
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
