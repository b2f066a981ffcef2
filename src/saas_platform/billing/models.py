"""Plans (what a tier grants and what it costs), subscriptions to them, and their seats.

Money is an integer in minor units with an ISO 4217 currency, never a float.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas_platform.core.db import Base, Timestamps, UUIDPrimaryKey


class BillingCycle(enum.StrEnum):
    MONTHLY = "monthly"
    ANNUALLY = "annually"


class RateLimitClass(enum.StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription states."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# A tenant has at most one subscription in these states (a partial unique index).
LIVE_STATUSES = (
    SubscriptionStatus.TRIALING.value,
    SubscriptionStatus.ACTIVE.value,
    SubscriptionStatus.PAST_DUE.value,
    SubscriptionStatus.UNPAID.value,
    SubscriptionStatus.PAUSED.value,
)
ONE_LIVE_SUBSCRIPTION_INDEX = "uq_subscriptions_live_tenant"


class Plan(UUIDPrimaryKey, Timestamps, Base):
    """A plan; its ``code`` is the tier it grants to a subscribed tenant (decision 0008)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # The grant: what tenants/tiers.py's TierLimits holds.
    max_users: Mapped[int] = mapped_column(Integer)
    storage_gb: Mapped[int] = mapped_column(Integer)
    expiration_days: Mapped[int] = mapped_column(Integer)
    expiration_reason: Mapped[str] = mapped_column(String(40))
    backup_policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rate_limit_class: Mapped[str] = mapped_column(String(20))
    # Prices, in minor units of ``currency``.
    currency: Mapped[str] = mapped_column(String(3))
    monthly_amount_cents: Mapped[int] = mapped_column(BigInteger)
    annual_amount_cents: Mapped[int] = mapped_column(BigInteger)
    seats_included: Mapped[int] = mapped_column(Integer)
    extra_seat_amount_cents: Mapped[int] = mapped_column(BigInteger)
    trial_days: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))


class Subscription(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(
            ONE_LIVE_SUBSCRIPTION_INDEX,
            "tenant_id",
            unique=True,
            postgresql_where=text("status <> 'canceled'"),
        ),
        Index("ix_subscriptions_status_period_end", "status", "current_period_end"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    billing_cycle: Mapped[str] = mapped_column(String(10))
    max_users: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[datetime]
    end_date: Mapped[datetime | None]
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime]
    trial_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    canceled_at: Mapped[datetime | None]
    payment_method_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class Seat(UUIDPrimaryKey, Timestamps, Base):
    """A member of the tenant holding one of the subscription's seats."""

    __tablename__ = "subscription_seats"
    __table_args__ = (UniqueConstraint("subscription_id", "user_id"),)

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
