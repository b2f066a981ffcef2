"""audit entries carry a keyed MAC

Revision ID: 0010_audit_mac
Revises: 0009_login_lockout
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_audit_mac"
down_revision = "0009_login_lockout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null on the entries written before this revision: the key that signs them lives outside
    # the database (derived from the secret key), so a migration cannot compute their MACs.
    op.add_column("audit_log", sa.Column("mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "mac")
