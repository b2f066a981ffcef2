"""Subscriptions: the renewals' due query walks an index in order (periods ended, renewing
statuses only) instead of reading and sorting every due subscription each batch

Revision ID: 0028_renewal_due_index
Revises: 0027_portal_refresh_reuse
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_renewal_due_index"
down_revision = "0027_portal_refresh_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The predicate is billing.models.RENEWING, written out: a migration does not import the
    # models it migrates (they move on; this step does not).
    op.create_index(
        "ix_subscriptions_due",
        "subscriptions",
        ["current_period_end", "id"],
        postgresql_where=sa.text("status IN ('trialing', 'active')"),
    )


def downgrade() -> None:
    op.drop_index("ix_subscriptions_due", table_name="subscriptions")
