"""Webhook endpoints, one delivery per (event, endpoint), one attempt row per attempt."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core import clock
from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class EndpointStatus(enum.StrEnum):
    ACTIVE = "active"
    # By its owner (PATCH), by a 410 Gone, or after failing for days.
    DISABLED = "disabled"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    # Every attempt of the schedule failed, or the endpoint was disabled meanwhile.
    FAILED = "failed"


class DeliveryOrigin(enum.StrEnum):
    EVENT = "event"
    REPLAY = "replay"
    RETRY = "retry"
    TEST = "test"


class WebhookEndpoint(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "webhook_endpoints"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Set: only that tenant's events. Unset: every event the owner may read.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    # Encrypted at rest (core/crypto.py); the plain secret is shown once.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=EndpointStatus.ACTIVE.value)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # The first failed attempt since the last success: failing long enough disables.
    failing_since: Mapped[datetime | None]

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class WebhookDelivery(UUIDPrimaryKey, Base):
    """One message to one endpoint: its body is fixed at fan-out, its attempts follow the
    retry schedule. ``message_id`` is the ``webhook-id`` (the event's id: receivers dedupe
    on it, across retries and replays)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # Fan-out is idempotent: a second run creates no second delivery of one event.
        Index(
            "uq_webhook_deliveries_event_endpoint",
            "event_id",
            "endpoint_id",
            unique=True,
            postgresql_where=text("origin = 'event'"),
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event_outbox.id", ondelete="SET NULL")
    )
    origin: Mapped[str] = mapped_column(String(16), default=DeliveryOrigin.EVENT.value)
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    completed_at: Mapped[datetime | None]


class WebhookAttempt(UUIDPrimaryKey, Base):
    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    next_retry_at: Mapped[datetime | None]
