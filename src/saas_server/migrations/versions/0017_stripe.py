"""receipts of payment providers' events (Stripe's webhooks), applied once each

Revision ID: 0017_stripe
Revises: 0016_moves
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_stripe"
down_revision = "0016_moves"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_provider_event_receipts",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider", "event_id", name=op.f("pk_billing_provider_event_receipts")
        ),
    )


def downgrade() -> None:
    op.drop_table("billing_provider_event_receipts")
