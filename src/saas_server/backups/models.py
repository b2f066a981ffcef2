"""Backups (archives of one instance's database and files) and restores of them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey

# Where backup archives live in storage: one folder per tenant.
STORAGE_PREFIX = "tenants/"


def storage_key(tenant_id: uuid.UUID, backup_id: uuid.UUID) -> str:
    return f"{STORAGE_PREFIX}{tenant_id}/{backup_id}.zip"


class BackupType(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    PRE_RESTORE = "pre_restore"
    PRE_DELETE = "pre_delete"


class BackupStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RestoreStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    # The restore failed and the instance is back on its previous data.
    ROLLED_BACK = "rolled_back"
    # The restore failed before anything was touched, or the rollback itself failed.
    FAILED = "failed"


class Backup(UUIDPrimaryKey, Timestamps, Base):
    """One archive in Odoo's own format (dump.sql, filestore/, manifest.json).

    The row exists from the request on; ``status`` says whether the archive in storage is
    whole (``completed`` is set only after the storage has the complete object).
    """

    __tablename__ = "backups"
    __table_args__ = (
        Index("ix_backups_tenant_created", "tenant_id", "created_at"),
        Index("ix_backups_instance_type_created", "instance_id", "type", "created_at"),
        Index("ix_backups_expires_at", "expires_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    instance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL")
    )
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=BackupStatus.PENDING.value)
    # 0-100; an estimate while running (the archive's final size is unknown until the end).
    progress: Mapped[int] = mapped_column(Integer, default=0)
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    storage_kind: Mapped[str] = mapped_column(String(10))
    storage_key: Mapped[str] = mapped_column(String(400))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    odoo_version: Mapped[str] = mapped_column(String(20))
    database_name: Mapped[str] = mapped_column(String(63))
    # The admin login and password of the database as archived (a restore proves itself by
    # logging in with them); the password encrypted like the instance's.
    admin_login: Mapped[str] = mapped_column(String(320))
    admin_password_encrypted: Mapped[str] = mapped_column(Text)
    # Where the archive came from: "platform" (taken here) or "upload" (an Odoo archive).
    source: Mapped[str] = mapped_column(String(20), default="platform")
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # When retention removes it (archive and row together); None: kept until deleted.
    expires_at: Mapped[datetime | None]


class Restore(UUIDPrimaryKey, Timestamps, Base):
    """A restore job: a backup put back over an instance, with its progress and outcome."""

    __tablename__ = "restores"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    backup_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("backups.id", ondelete="SET NULL")
    )
    # The tenant the backup came from (differs from tenant_id when restoring into a new one).
    source_tenant_id: Mapped[uuid.UUID | None]
    pre_restore_backup_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("backups.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default=RestoreStatus.PENDING.value)
    # The last step that completed, and the progress over all steps (0-100).
    step: Mapped[str | None] = mapped_column(String(30))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # Odoo's restore with copy=True gives the database a new uuid: for a new tenant.
    as_copy: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[uuid.UUID | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
