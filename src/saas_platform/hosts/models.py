from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas_platform.core.db import Base, Timestamps, UUIDPrimaryKey


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
