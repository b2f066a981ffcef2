"""Marketing intelligence rows: SEO audits (one row and one job per audit)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


class AuditStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class SeoAudit(UUIDPrimaryKey, Timestamps, Base):
    """An SEO audit of ``url`` for a tenant (and, for an agency, one of its clients: the Odoo
    partner id ``client_id``). ``report`` is marketing/seo.py's whole answer; ``score`` and
    ``findings`` are copied out of it so lists and the analytics over time read columns."""

    __tablename__ = "seo_audits"
    __table_args__ = (
        Index("ix_seo_audits_tenant_created", "tenant_id", "created_at"),
        Index("ix_seo_audits_tenant_url", "tenant_id", "url"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    keywords: Mapped[list[str]] = mapped_column(JSONB, default=list)
    competitors: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(16), default=AuditStatus.PENDING.value)
    requested_by: Mapped[uuid.UUID | None]
    score: Mapped[int | None] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    recommendations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class PostStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SocialProvider(UUIDPrimaryKey, Timestamps, Base):
    """How a tenant publishes: ``webhook`` posts to ``config["url"]``, signed with the
    provider's own secret (encrypted here, shown once when the provider is created)."""

    __tablename__ = "social_providers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_social_providers_tenant_name"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    secret_encrypted: Mapped[str] = mapped_column(Text)


class ScheduledPost(UUIDPrimaryKey, Timestamps, Base):
    """A social post to publish at ``scheduled_time`` through the tenant's ``provider``
    (marketing/social.py)."""

    __tablename__ = "scheduled_posts"
    __table_args__ = (
        Index("ix_scheduled_posts_due", "status", "next_attempt_at"),
        Index("ix_scheduled_posts_tenant_time", "tenant_id", "scheduled_time"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    target_audience: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    scheduled_time: Mapped[datetime]
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.SCHEDULED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    engagement: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_by: Mapped[uuid.UUID | None]
