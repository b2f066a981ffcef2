"""The client portal's tables: the portal's state per tenant, the copy of the tenant's Odoo
records it serves (a cache: Odoo stays the source of truth), portal logins, files shared
through it, notifications and each client's settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core import clock
from saas_server.core.db import Base


class PortalStatus(StrEnum):
    PREPARING = "preparing"
    ENABLED = "enabled"
    FAILED = "failed"


class PortalTenant(Base):
    """A tenant whose portal is on (or being prepared): its Odoo has the apps it reads."""

    __tablename__ = "portal_tenants"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    modules: Mapped[list[str]] = mapped_column(JSONB, default=list)
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    enabled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class PortalSyncState(Base):
    """The sync of one Odoo model for one tenant: how far it got (``write_date``), when it
    ran, what it holds and its last error."""

    __tablename__ = "portal_sync_states"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Odoo's own write_date of the newest record seen ("YYYY-MM-DD HH:MM:SS", UTC).
    cursor: Mapped[str | None] = mapped_column(String(32))
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    last_changed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class PortalRecord(Base):
    """One Odoo record as last synced. ``id`` is derived from (tenant, model, Odoo id), so
    it is stable across syncs and names no sequential number of ours."""

    __tablename__ = "portal_records"
    __table_args__ = (
        Index("uq_portal_records_tenant_model_odoo", "tenant_id", "model", "odoo_id", unique=True),
        Index("ix_portal_records_tenant_model_partner", "tenant_id", "model", "commercial_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    odoo_id: Mapped[int] = mapped_column(Integer)
    # The commercial entity the record belongs to (who may see it); None: the agency's own.
    commercial_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    odoo_write_date: Mapped[str | None] = mapped_column(String(32))
    synced_at: Mapped[datetime] = mapped_column(default=clock.now)


class PortalSession(Base):
    """A client logged in through the platform to their agency's Odoo: bound to that tenant
    and partner; the refresh token is stored hashed, Odoo's web session encrypted."""

    __tablename__ = "portal_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    odoo_uid: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[int] = mapped_column(Integer)
    commercial_id: Mapped[int] = mapped_column(Integer)
    login: Mapped[str] = mapped_column(String(320))
    email: Mapped[str | None] = mapped_column(String(320))
    odoo_session: Mapped[dict[str, Any]] = mapped_column(JSONB)
    odoo_session_id_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    refresh_expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # "logout", or "refresh_token_reuse" when a rotated refresh token came back.
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class PortalRefreshRotation(Base):
    """A portal refresh token its session rotated away from (hashed): presented again, it
    ends the session, unless within the reuse grace window of its rotation, when it is
    answered with the successor sealed here (decision 0034, as the platform's own tokens)."""

    __tablename__ = "portal_refresh_rotations"
    __table_args__ = (
        Index(
            "ix_portal_refresh_rotations_sealed_rotated_at",
            "rotated_at",
            postgresql_where=text("successor_sealed IS NOT NULL"),
        ),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portal_sessions.id", ondelete="CASCADE"), index=True
    )
    rotated_at: Mapped[datetime]
    successor_sealed: Mapped[str | None] = mapped_column(Text)


class PortalFile(Base):
    """A file shared through the portal: an ``ir.attachment`` in the tenant's Odoo."""

    __tablename__ = "portal_files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    attachment_id: Mapped[int] = mapped_column(Integer)
    res_model: Mapped[str] = mapped_column(String(64))
    res_id: Mapped[int] = mapped_column(Integer)
    commercial_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    deleted_at: Mapped[datetime | None]


class PortalNotification(Base):
    """Something a client should know (a task changed stage, an invoice was posted...)."""

    __tablename__ = "portal_notifications"
    __table_args__ = (
        Index("ix_portal_notifications_recipient", "tenant_id", "commercial_id", "created_at"),
        # A notification is made once per change (the webhook and the scheduled sync may
        # both see one change).
        Index("uq_portal_notifications_dedupe", "tenant_id", "dedupe_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The client (commercial entity) it is for; None: the agency's members.
    commercial_id: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]


class PortalSettings(Base):
    """A portal user's (or member's) preferences, keyed by who they are in that tenant."""

    __tablename__ = "portal_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    # "partner:<odoo partner id>" or "user:<platform user id>".
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), default="en_US")
    theme: Mapped[str] = mapped_column(String(10), default="system")
    notify_email: Mapped[bool] = mapped_column(default=True)
    notify_push: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
