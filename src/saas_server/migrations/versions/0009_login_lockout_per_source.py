"""Login lockout per email and source address, with an account-wide ceiling

Revision ID: 0009_login_lockout
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_login_lockout"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The counters are short-lived (one lockout window): existing ones become account-wide.
    op.add_column(
        "auth_login_throttles",
        sa.Column("source", sa.String(length=64), server_default="*", nullable=False),
    )
    op.alter_column("auth_login_throttles", "source", server_default=None)
    op.add_column(
        "auth_login_throttles",
        sa.Column("trusted_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint("pk_auth_login_throttles", "auth_login_throttles", type_="primary")
    op.create_primary_key("pk_auth_login_throttles", "auth_login_throttles", ["email", "source"])


def downgrade() -> None:
    op.execute("DELETE FROM auth_login_throttles WHERE source <> '*'")
    op.drop_constraint("pk_auth_login_throttles", "auth_login_throttles", type_="primary")
    op.create_primary_key("pk_auth_login_throttles", "auth_login_throttles", ["email"])
    op.drop_column("auth_login_throttles", "trusted_until")
    op.drop_column("auth_login_throttles", "source")
