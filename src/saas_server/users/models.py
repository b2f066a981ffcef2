from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class PlatformRole(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    # Stored lowercased; the unique index makes the address unique case-insensitively.
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20), default=PlatformRole.USER.value)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    email_verified_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # How many tenants this user may own; None means the platform default.
    tenant_limit: Mapped[int | None]
    # A tenant asked for at registration, created once the email address is verified.
    signup_tenant: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    @property
    def is_platform_admin(self) -> bool:
        return self.role == PlatformRole.ADMIN.value

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
