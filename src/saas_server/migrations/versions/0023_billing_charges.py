"""Billing: a ledger of the charges providers made; subscriptions' scheduled ends indexed

Revision ID: 0023_billing_charges
Revises: 0022_tenant_requests
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_billing_charges"
down_revision = "0022_tenant_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_charges",
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_charge_id", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_billing_charges_tenant_id", "billing_charges", ["tenant_id"])
    # Renewals find scheduled ends by index (decision 0028).
    op.create_index(
        "ix_subscriptions_end_date",
        "subscriptions",
        ["end_date"],
        postgresql_where=sa.text("end_date IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_subscriptions_end_date", table_name="subscriptions")
    op.drop_index("ix_billing_charges_tenant_id", table_name="billing_charges")
    op.drop_table("billing_charges")
