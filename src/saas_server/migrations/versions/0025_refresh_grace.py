"""Refresh tokens: the successor a rotated token may still be answered with in its grace window

Revision ID: 0025_refresh_grace
Revises: 0024_ops_logs
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_refresh_grace"
down_revision = "0024_ops_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The successor refresh token, encrypted (core.crypto.SecretBox), kept only for the
    # reuse grace window after rotation (docs/decisions/0034-refresh-reuse-grace.md).
    op.add_column("auth_refresh_tokens", sa.Column("successor_sealed", sa.Text(), nullable=True))
    op.create_index(
        "ix_auth_refresh_tokens_sealed_rotated_at",
        "auth_refresh_tokens",
        ["rotated_at"],
        postgresql_where=sa.text("successor_sealed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_auth_refresh_tokens_sealed_rotated_at", table_name="auth_refresh_tokens")
    op.drop_column("auth_refresh_tokens", "successor_sealed")
