"""The platform's maintenance switch: one row, shared by every API process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core import clock
from saas_server.core.db import Base

# The channel a trigger notifies when the row changes (migration 0014_monitoring); API
# processes keep the switch in memory and drop their copy when they hear it.
MAINTENANCE_CHANNEL = "saas_maintenance_changed"


class MaintenanceMode(Base):
    __tablename__ = "maintenance_mode"
    # One row at most: the switch is platform-wide.
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    message: Mapped[str | None] = mapped_column(Text)
    until: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
