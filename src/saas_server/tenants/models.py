from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class TenantTier(enum.StrEnum):
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


TIER_RANK = {TenantTier.STARTER: 0, TenantTier.PROFESSIONAL: 1, TenantTier.ENTERPRISE: 2}


class TenantStatus(enum.StrEnum):
    """A tenant shows the state of its production instance, except while it is
    ``suspended`` (billing: an invoice went unpaid through dunning; its instance stopped)."""

    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"
    RESTORING = "restoring"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    DELETED = "deleted"


GONE_STATUSES = (TenantStatus.DELETING.value, TenantStatus.DELETED.value)


class TenantRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tenants"
    __table_args__ = (
        # Unique case-insensitively, deleted tenants included until they are purged.
        Index(
            "uq_tenants_subdomain_lower",
            func.lower(text("subdomain")),
            unique=True,
            postgresql_where=text("purged_at IS NULL"),
        ),
        Index("ix_tenants_owner_id_created_at", "owner_id", "created_at"),
    )

    name: Mapped[str] = mapped_column(String(200))
    subdomain: Mapped[str] = mapped_column(String(63))
    tier: Mapped[str] = mapped_column(String(20), default=TenantTier.STARTER.value)
    status: Mapped[str] = mapped_column(String(20), default=TenantStatus.PROVISIONING.value)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # The primary owner (the creator, or whoever ownership was transferred to).
    # Null only for a deleted tenant whose last owner's account was deleted afterwards.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    contact_email: Mapped[str | None] = mapped_column(String(320))
    billing_address: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    deleted_at: Mapped[datetime | None]
    # Set when the grace period after deletion ends: the subdomain is free again.
    purged_at: Mapped[datetime | None]


class Membership(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tenant_memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default=TenantRole.MEMBER.value)


class Invitation(UUIDPrimaryKey, Timestamps, Base):
    """An email invited to a tenant; accepted once with the mailed token."""

    __tablename__ = "tenant_invitations"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(20), default=TenantRole.MEMBER.value)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
