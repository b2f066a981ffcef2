from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class HostStatus(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    DRAINING = "draining"


class OdooHost(UUIDPrimaryKey, Timestamps, Base):
    """An Odoo server the platform puts tenant databases on."""

    __tablename__ = "odoo_hosts"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    # Both secrets are encrypted at rest (core.crypto.SecretBox) and never returned.
    master_password_encrypted: Mapped[str] = mapped_column(Text)
    postgres_url_encrypted: Mapped[str | None] = mapped_column(Text)
    # As the host reports it: the series ("17.0") and the full build ("17.0-20240709").
    odoo_version: Mapped[str] = mapped_column(String(20))
    server_version: Mapped[str | None] = mapped_column(String(60))
    capacity: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=HostStatus.HEALTHY.value)
    # Draining is an operator's choice; reachability is kept apart so it survives a drain.
    draining: Mapped[bool] = mapped_column(default=False)
    is_emulator: Mapped[bool] = mapped_column(default=False)
    last_checked_at: Mapped[datetime | None]
    last_latency_ms: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The admin password of this host's template databases (encrypted), one per host.
    template_admin_password_encrypted: Mapped[str | None] = mapped_column(Text)
    # Odoo's ``--logfile`` on this machine, when the platform can read it: each tenant's
    # log shows the lines of its database (monitoring/odoo_log.py).
    log_path: Mapped[str | None] = mapped_column(String(1000))


class StandbyStatus(enum.StrEnum):
    # Row written before the database is cloned, so a crash leaves nothing unnamed.
    PREPARING = "preparing"
    # Cloned, admin password set and proven by a login: claimable.
    READY = "ready"
    # Taken by a provisioning instance (``instance_id``); deleted when it is ready.
    CLAIMED = "claimed"
    # Being dropped (pool shrunk, host draining, its instance deleted before the rename).
    DROPPING = "dropping"


class StandbyDatabase(UUIDPrimaryKey, Timestamps, Base):
    """A spare database on a host, cloned from the host's template with its own admin
    password already hashed; provisioning renames it to a tenant's database name."""

    __tablename__ = "standby_databases"
    __table_args__ = (Index("ix_standby_databases_host_id_status", "host_id", "status"),)

    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("odoo_hosts.id", ondelete="CASCADE"))
    odoo_version: Mapped[str] = mapped_column(String(20))
    database_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=StandbyStatus.PREPARING.value)
    admin_login: Mapped[str] = mapped_column(String(320))
    admin_password_encrypted: Mapped[str] = mapped_column(Text)
    # The admin's uid, known once a login proved the password.
    admin_uid: Mapped[int | None]
    instance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL"), unique=True
    )
    ready_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
