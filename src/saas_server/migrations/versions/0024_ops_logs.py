"""Tenant moves: how the target copy was caught up inside the window

Revision ID: 0024_ops_logs
Revises: 0023_billing_charges
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024_ops_logs"
down_revision = "0023_billing_charges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenant_moves", sa.Column("catch_up", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenant_moves", "catch_up")
