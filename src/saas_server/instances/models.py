from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class InstanceStatus(enum.StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"
    RESTORING = "restoring"
    # Its database is being carried to another host (moves/): no stop, start or deletion.
    MOVING = "moving"
    DELETING = "deleting"
    DELETED = "deleted"


class Instance(UUIDPrimaryKey, Timestamps, Base):
    """One Odoo database of a tenant (its production database; staging can join later)."""

    __tablename__ = "instances"
    __table_args__ = (
        # A database name is taken on its host until the instance is deleted (a purged
        # tenant's subdomain, reused by a new tenant, names a new database).
        Index(
            "uq_instances_host_database_live",
            "host_id",
            "database_name",
            unique=True,
            postgresql_where=text("status <> 'deleted'"),
        ),
        Index("ix_instances_tenant_id_kind", "tenant_id", "kind"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="production")
    host_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("odoo_hosts.id", ondelete="RESTRICT"), index=True
    )
    database_name: Mapped[str] = mapped_column(String(63))
    odoo_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=InstanceStatus.PENDING.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # The running flow (provision, delete, ...) and the last of its steps that completed.
    flow: Mapped[str | None] = mapped_column(String(30))
    step: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    admin_login: Mapped[str] = mapped_column(String(320))
    admin_password_encrypted: Mapped[str] = mapped_column(Text)
    # A generated password that provisioning may still replace with the one a standby
    # database already has (hosts/standby.py); not shown until it is final.
    admin_password_provisional: Mapped[bool] = mapped_column(default=False, server_default=false())
    lang: Mapped[str] = mapped_column(String(16), default="en_US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    expires_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class InstanceTransition(UUIDPrimaryKey, Base):
    """Every change of an instance's state, with its time and reason."""

    __tablename__ = "instance_transitions"

    instance_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime]
