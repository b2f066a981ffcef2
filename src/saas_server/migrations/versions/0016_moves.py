"""tenant moves between Odoo hosts

Revision ID: 0016_moves
Revises: 0015_security
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_moves"
down_revision = "0015_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_moves",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("source_host_id", sa.Uuid(), nullable=True),
        sa.Column("target_host_id", sa.Uuid(), nullable=True),
        sa.Column("odoo_version", sa.String(length=20), nullable=False),
        sa.Column("source_database", sa.String(length=63), nullable=False),
        sa.Column("parked_database", sa.String(length=63), nullable=False),
        sa.Column("target_database", sa.String(length=63), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("logins_refused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("logins_reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("login_refused_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_moves_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_tenant_moves_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_host_id"],
            ["odoo_hosts.id"],
            name=op.f("fk_tenant_moves_source_host_id_odoo_hosts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_host_id"],
            ["odoo_hosts.id"],
            name=op.f("fk_tenant_moves_target_host_id_odoo_hosts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_moves")),
    )
    op.create_index(
        "uq_tenant_moves_instance_active",
        "tenant_moves",
        ["instance_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )
    op.create_index("ix_tenant_moves_tenant_created", "tenant_moves", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_table("tenant_moves")
