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

from saas_server.core.db import Base, Timestamps, UUIDPrimaryKey


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


# The statuses a period end renews, as SQL: the partial index's predicate and the due
# query's condition must be the same text for the planner to use the index.
RENEWING = "status IN ('trialing', 'active')"


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
        # The renewals' two due queries (billing.renewals._due_subscriptions) walk these in
        # order and stop at a batch: periods ended, then scheduled ends reached.
        Index(
            "ix_subscriptions_due",
            "current_period_end",
            "id",
            postgresql_where=text(RENEWING),
        ),
        Index(
            "ix_subscriptions_end_date",
            "end_date",
            postgresql_where=text("end_date IS NOT NULL"),
        ),
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
    # A downgrade (cheaper plan, fewer seats, another cycle) waits for the period's end.
    pending_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plans.id", ondelete="RESTRICT")
    )
    pending_max_users: Mapped[int | None] = mapped_column(Integer)
    pending_billing_cycle: Mapped[str | None] = mapped_column(String(10))
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


class BillingAccount(Timestamps, Base):
    """What a tenant is billed as: country (for the tax rate), tax id, address snapshot
    source, and the provider's customer id."""

    __tablename__ = "billing_accounts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    country: Mapped[str | None] = mapped_column(String(2))
    tax_id: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(100))


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceNumberSequence(Base):
    """The last number given per prefix and year; bumped in the finalising transaction,
    so a rolled-back finalisation gives its number back (no gaps)."""

    __tablename__ = "invoice_number_sequences"

    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Invoice(UUIDPrimaryKey, Timestamps, Base):
    """Immutable once finalised (``open`` onwards): only its status and payment move; a
    correction is a credit note (``kind``), which refers to the invoice it credits."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_invoices_tenant_created", "tenant_id", "created_at"),
        Index("ix_invoices_status_due", "status", "due_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    credits_invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="RESTRICT")
    )
    number: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int] = mapped_column(BigInteger)
    tax_rate_basis_points: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(BigInteger)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    amount_paid_cents: Mapped[int] = mapped_column(BigInteger)
    seller: Mapped[dict[str, Any]] = mapped_column(JSONB)
    buyer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    # Dunning: charge attempts made and the next one due (renewals).
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    dunning_started_at: Mapped[datetime | None]
    provider_charge_id: Mapped[str | None] = mapped_column(String(100))


class InvoiceLine(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    proration: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]


class ProviderCharge(Base):
    """A charge the provider made, written in its own transaction the moment the provider
    answers, whatever becomes of the transaction that asked for it: a renewal batch whose
    commit fails after its charges is re-run, finds each charge here by its key
    (subscription and period, ``renewal-<subscription>-<period start>``) and settles the
    new invoice with it instead of charging again. No foreign keys: the row must commit
    while the subscription or invoice it names may still be uncommitted."""

    __tablename__ = "billing_charges"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_charge_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime]


class PaymentMethod(UUIDPrimaryKey, Timestamps, Base):
    """A way a tenant pays, held by the provider; we keep only what identifies it (never a
    card number or CVC). One default per billing account (a partial unique index)."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        Index(
            "uq_payment_methods_default_tenant",
            "tenant_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(40))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
