"""Moves: a tenant's database carried from one Odoo host to another of the same version."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class MoveStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    # A step failed: the tenant serves from the source again (or, past the switch, from the
    # target with the source copy still to drop); ``retry`` runs it again.
    FAILED = "failed"


ACTIVE_MOVE_STATES = (MoveStatus.PENDING.value, MoveStatus.RUNNING.value)


class Move(UUIDPrimaryKey, Timestamps, Base):
    """One move of a tenant's production database, its steps checkpointed on the row."""

    __tablename__ = "tenant_moves"
    __table_args__ = (
        # One move at a time per instance: the second request is refused (409) and two
        # concurrent ones cannot both commit.
        Index(
            "uq_tenant_moves_instance_active",
            "instance_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'running')"),
        ),
        Index("ix_tenant_moves_tenant_created", "tenant_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    source_host_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("odoo_hosts.id", ondelete="SET NULL")
    )
    target_host_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("odoo_hosts.id", ondelete="SET NULL")
    )
    odoo_version: Mapped[str] = mapped_column(String(20))
    source_database: Mapped[str] = mapped_column(String(63))
    # The source database's name while logins are refused (renamed away from its own).
    parked_database: Mapped[str] = mapped_column(String(63))
    # Chosen by the flow's first step: the source's name unless the target has one so named.
    target_database: Mapped[str | None] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(20), default=MoveStatus.PENDING.value)
    # The last completed step of the move flow (None: nothing to resume from).
    step: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The window during which the tenant refused logins: from closing the source to
    # reopening on the target (or on the source again, after a failure).
    logins_refused_at: Mapped[datetime | None]
    logins_reopened_at: Mapped[datetime | None]
    login_refused_ms: Mapped[int | None] = mapped_column(Integer)
    # How the target copy was brought up to date inside the window: ``mode`` "tables" (the
    # tables written since the pre-copy, listed) or "full" (the whole database, ``reason``).
    catch_up: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
