"""Integration providers, the events they (and tenants' Odoo databases) send us, each
processing attempt, the users they link, and each instance's Odoo webhook secret."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey

# The source name of events from tenants' Odoo databases: no provider may take it.
ODOO_SOURCE = "odoo"
# The unique constraint that makes a repeated event_id a no-op, also under concurrent posts.
EVENT_SOURCE_ID_UNIQUE = "uq_integration_events_source_event_id"


class ProviderKind(enum.StrEnum):
    USER_SERVICE = "user_service"
    PAYMENT_SERVICE = "payment_service"
    GENERIC = "generic"


class AuthType(enum.StrEnum):
    API_KEY = "api_key"
    OAUTH2 = "oauth2"
    HMAC = "hmac"
    NONE = "none"


class HealthStatus(enum.StrEnum):
    UNKNOWN = "unknown"  # never checked yet
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # answered, slower than the threshold
    DOWN = "down"  # no answer, a timeout or a 5xx


class EventStatus(enum.StrEnum):
    PENDING = "pending"  # accepted, a job will process it
    PROCESSED = "processed"
    RETRYING = "retrying"  # an attempt failed; the next one is due at next_attempt_at
    FAILED = "failed"  # every scheduled attempt failed; only a manual retry goes on
    UNHANDLED = "unhandled"  # stored, but no handler is connected for its kind and type


class IntegrationProvider(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "integration_providers"

    # A slug: the last segment of its intake URL.
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    api_base_url: Mapped[str | None] = mapped_column(String(2000))
    auth_type: Mapped[str] = mapped_column(String(20))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # CIDRs; empty: any address.
    allowed_ips: Mapped[list[str]] = mapped_column(JSONB, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    # A ``limits`` spec such as "600/minute", counted per provider on its intake.
    rate_limit: Mapped[str] = mapped_column(String(40))
    health_status: Mapped[str] = mapped_column(String(20), default=HealthStatus.UNKNOWN.value)
    health_response_time_ms: Mapped[int | None] = mapped_column(Integer)
    health_checked_at: Mapped[datetime | None]
    health_error: Mapped[str | None] = mapped_column(Text)


class InboundEvent(UUIDPrimaryKey, Timestamps, Base):
    """One event received and verified; ``(source, event_id)`` is unique so a repeat is
    acknowledged and never processed twice."""

    __tablename__ = "integration_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name=EVENT_SOURCE_ID_UNIQUE),
        Index("ix_integration_events_created", "created_at"),
        Index("ix_integration_events_status_next", "status", "next_attempt_at"),
    )

    # The provider's name, or "odoo".
    source: Mapped[str] = mapped_column(String(63))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_providers.id", ondelete="SET NULL"), index=True
    )
    # Odoo events: the tenant whose database sent it.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    instance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("instances.id", ondelete="SET NULL")
    )
    # The kind of handler that processes it (a provider's kind, or "odoo").
    kind: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Scheduled retries used so far (a manual retry does not count).
    retries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # What processing produced (the outbox event re-emitted, the user touched).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class InboundEventAttempt(UUIDPrimaryKey, Base):
    __tablename__ = "integration_event_attempts"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_events.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    succeeded: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)
    manual: Mapped[bool] = mapped_column(default=False)


class ExternalUserLink(UUIDPrimaryKey, Timestamps, Base):
    """A platform user created or matched for an external id of a user service."""

    __tablename__ = "integration_user_links"
    __table_args__ = (
        UniqueConstraint("provider_id", "external_id", name="uq_integration_user_links_external"),
    )

    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_providers.id", ondelete="CASCADE")
    )
    external_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class OdooWebhookSecret(Timestamps, Base):
    """The secret an instance's Odoo signs its webhooks with, and whether that Odoo has it
    (written as the system parameters ``saas.webhook_secret`` and ``saas.webhook_url``)."""

    __tablename__ = "odoo_webhook_secrets"

    instance_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    installed_at: Mapped[datetime | None]
    install_error: Mapped[str | None] = mapped_column(Text)
