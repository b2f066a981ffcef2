"""security events carry a count (a blocked IP's refusals tallied in memory)

Revision ID: 0019_ops
Revises: 0018_api_keys
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_ops"
down_revision = "0018_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "security_events",
        sa.Column("count", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )


def downgrade() -> None:
    op.drop_column("security_events", "count")
