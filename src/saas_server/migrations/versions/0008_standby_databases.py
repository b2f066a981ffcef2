"""Standby databases: spare, pre-configured Odoo databases per host

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "standby_databases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("host_id", sa.Uuid(), nullable=False),
        sa.Column("odoo_version", sa.String(length=20), nullable=False),
        sa.Column("database_name", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("admin_login", sa.String(length=320), nullable=False),
        sa.Column("admin_password_encrypted", sa.Text(), nullable=False),
        sa.Column("admin_uid", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["odoo_hosts.id"],
            name=op.f("fk_standby_databases_host_id_odoo_hosts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_standby_databases_instance_id_instances"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standby_databases")),
        sa.UniqueConstraint("database_name", name=op.f("uq_standby_databases_database_name")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_standby_databases_instance_id")),
    )
    op.create_index(
        "ix_standby_databases_host_id_status", "standby_databases", ["host_id", "status"]
    )
    op.add_column(
        "instances",
        sa.Column(
            "admin_password_provisional",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    )


def downgrade() -> None:
    op.drop_column("instances", "admin_password_provisional")
    op.drop_index("ix_standby_databases_host_id_status", table_name="standby_databases")
    op.drop_table("standby_databases")
