"""Billing: plans (seeded with the tiers' defaults), subscriptions and their seats

Revision ID: 0011_billing
Revises: 0010_audit_mac
Create Date: 2026-12-05
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_billing"
down_revision = "0010_audit_mac"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


# The grants of tenants/tiers.py's TIERS as they were when tiers moved into plans, with
# their prices. Written out here: a migration never changes with the code after it.
_DEFAULT_PLANS = [
    {
        "code": "starter",
        "name": "Starter",
        "max_users": 5,
        "storage_gb": 5,
        "expiration_days": 30,
        "expiration_reason": "trial",
        "backup_policy": {
            "daily": 7,
            "weekly": 4,
            "monthly": 3,
            "manual_quota": 5,
            "manual_retention_days": 90,
        },
        "rate_limit_class": "standard",
        "monthly_amount_cents": 1900,
        "annual_amount_cents": 19000,
        "seats_included": 5,
        "extra_seat_amount_cents": 500,
    },
    {
        "code": "professional",
        "name": "Professional",
        "max_users": 50,
        "storage_gb": 50,
        "expiration_days": 365,
        "expiration_reason": "renewal",
        "backup_policy": {
            "daily": 14,
            "weekly": 8,
            "monthly": 6,
            "manual_quota": 20,
            "manual_retention_days": 180,
        },
        "rate_limit_class": "premium",
        "monthly_amount_cents": 4900,
        "annual_amount_cents": 49000,
        "seats_included": 10,
        "extra_seat_amount_cents": 400,
    },
    {
        "code": "enterprise",
        "name": "Enterprise",
        "max_users": 1000,
        "storage_gb": 500,
        "expiration_days": 365,
        "expiration_reason": "renewal",
        "backup_policy": {
            "daily": 30,
            "weekly": 12,
            "monthly": 12,
            "manual_quota": 50,
            "manual_retention_days": 365,
        },
        "rate_limit_class": "enterprise",
        "monthly_amount_cents": 19900,
        "annual_amount_cents": 199000,
        "seats_included": 50,
        "extra_seat_amount_cents": 300,
    },
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_users", sa.Integer(), nullable=False),
        sa.Column("storage_gb", sa.Integer(), nullable=False),
        sa.Column("expiration_days", sa.Integer(), nullable=False),
        sa.Column("expiration_reason", sa.String(40), nullable=False),
        sa.Column("backup_policy", postgresql.JSONB(), nullable=False),
        sa.Column("rate_limit_class", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("monthly_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("annual_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("seats_included", sa.Integer(), nullable=False),
        sa.Column("extra_seat_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("code", name="uq_plans_code"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("billing_cycle", sa.String(10), nullable=False),
        sa.Column("max_users", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trial_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_method_id", sa.Uuid(), nullable=True),
        sa.Column("pending_plan_id", sa.Uuid(), nullable=True),
        sa.Column("pending_max_users", sa.Integer(), nullable=True),
        sa.Column("pending_billing_cycle", sa.String(10), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_subscriptions_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_subscriptions_plan_id_plans", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name="fk_subscriptions_created_by_users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pending_plan_id"],
            ["plans.id"],
            name="fk_subscriptions_pending_plan_id_plans",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_subscriptions_tenant_id", "subscriptions", ["tenant_id"])
    op.create_index(
        "ix_subscriptions_status_period_end", "subscriptions", ["status", "current_period_end"]
    )
    op.create_index(
        "uq_subscriptions_live_tenant",
        "subscriptions",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'canceled'"),
    )
    op.create_table(
        "subscription_seats",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_seats"),
        sa.UniqueConstraint(
            "subscription_id", "user_id", name="uq_subscription_seats_subscription_id"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_subscription_seats_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_subscription_seats_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_subscription_seats_subscription_id", "subscription_seats", ["subscription_id"]
    )
    _create_invoicing()
    now = datetime.now(UTC)
    op.bulk_insert(
        plans,
        [
            {
                "id": uuid.uuid4(),
                "description": None,
                "currency": "USD",
                "trial_days": 14,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
                **plan,
            }
            for plan in _DEFAULT_PLANS
        ],
    )


def _create_invoicing() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("tax_id", sa.String(40), nullable=True),
        sa.Column("provider", sa.String(20), nullable=True),
        sa.Column("customer_id", sa.String(100), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_billing_accounts"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_billing_accounts_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "invoice_number_sequences",
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name="pk_invoice_number_sequences"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("credits_invoice_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(60), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_basis_points", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("seller", postgresql.JSONB(), nullable=False),
        sa.Column("buyer", postgresql.JSONB(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dunning_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_charge_id", sa.String(100), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_invoices_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_invoices_subscription_id_subscriptions",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["credits_invoice_id"],
            ["invoices.id"],
            name="fk_invoices_credits_invoice_id_invoices",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_invoices_tenant_created", "invoices", ["tenant_id", "created_at"])
    op.create_index("ix_invoices_status_due", "invoices", ["status", "due_at"])
    op.create_index("ix_invoices_subscription_id", "invoices", ["subscription_id"])
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("proration", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_invoice_lines"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name="fk_invoice_lines_invoice_id_invoices",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_invoice_lines_invoice_id", "invoice_lines", ["invoice_id"])
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("brand", sa.String(40), nullable=True),
        sa.Column("last4", sa.String(4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_payment_methods"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_payment_methods_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_payment_methods_tenant_id", "payment_methods", ["tenant_id"])
    op.create_table(
        "billing_idempotent_requests",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_billing_idempotent_requests"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_billing_idempotent_requests_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "uq_payment_methods_default_tenant",
        "payment_methods",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )


def downgrade() -> None:
    op.drop_table("billing_idempotent_requests")
    op.drop_table("payment_methods")
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    op.drop_table("invoice_number_sequences")
    op.drop_table("billing_accounts")
    op.drop_table("subscription_seats")
    op.drop_table("subscriptions")
    op.drop_table("plans")
