"""Odoo hosts: where their server log can be read

Revision ID: 0022_tenant_requests
Revises: 0021_marketing
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_tenant_requests"
down_revision = "0021_marketing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("odoo_hosts", sa.Column("log_path", sa.String(1000), nullable=True))


def downgrade() -> None:
    op.drop_column("odoo_hosts", "log_path")
