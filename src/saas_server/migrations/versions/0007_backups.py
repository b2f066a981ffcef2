"""Backups and restores

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "instance_id",
            sa.Uuid(),
            sa.ForeignKey("instances.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("storage_kind", sa.String(10), nullable=False),
        sa.Column("storage_key", sa.String(400), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("odoo_version", sa.String(20), nullable=False),
        sa.Column("database_name", sa.String(63), nullable=False),
        sa.Column("admin_login", sa.String(320), nullable=False),
        sa.Column("admin_password_encrypted", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backups_tenant_created", "backups", ["tenant_id", "created_at"])
    op.create_index(
        "ix_backups_instance_type_created", "backups", ["instance_id", "type", "created_at"]
    )
    op.create_index("ix_backups_expires_at", "backups", ["expires_at"])

    op.create_table(
        "restores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "instance_id",
            sa.Uuid(),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "backup_id", sa.Uuid(), sa.ForeignKey("backups.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("source_tenant_id", sa.Uuid(), nullable=True),
        sa.Column(
            "pre_restore_backup_id",
            sa.Uuid(),
            sa.ForeignKey("backups.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("step", sa.String(30), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("as_copy", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_restores_tenant_id", "restores", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("restores")
    op.drop_table("backups")
