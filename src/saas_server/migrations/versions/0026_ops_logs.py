"""Tenant moves: how the target copy was caught up inside the window

Revision ID: 0026_ops_logs
Revises: 0022_tenant_requests
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026_ops_logs"
down_revision = "0022_tenant_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenant_moves", sa.Column("catch_up", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenant_moves", "catch_up")
