"""Portal refresh tokens: the rotated ones, so presenting one again ends the session

Revision ID: 0027_portal_refresh_reuse
Revises: 0026_api_keys_idempotency
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_portal_refresh_reuse"
down_revision = "0026_api_keys_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("portal_sessions", sa.Column("revoked_reason", sa.String(50), nullable=True))
    # Every portal refresh token a session rotated away from (hashed), with the successor it
    # was exchanged for sealed during the reuse grace window (decision 0034).
    op.create_table(
        "portal_refresh_rotations",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("successor_sealed", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["portal_sessions.id"],
            name=op.f("fk_portal_refresh_rotations_session_id_portal_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_refresh_rotations")),
    )
    op.create_index(
        op.f("ix_portal_refresh_rotations_session_id"),
        "portal_refresh_rotations",
        ["session_id"],
    )
    op.create_index(
        "ix_portal_refresh_rotations_sealed_rotated_at",
        "portal_refresh_rotations",
        ["rotated_at"],
        postgresql_where=sa.text("successor_sealed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_portal_refresh_rotations_sealed_rotated_at", table_name="portal_refresh_rotations"
    )
    op.drop_index(
        op.f("ix_portal_refresh_rotations_session_id"), table_name="portal_refresh_rotations"
    )
    op.drop_table("portal_refresh_rotations")
    op.drop_column("portal_sessions", "revoked_reason")
