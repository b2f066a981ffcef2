"""Odoo hosts, instances with their transitions, and the domain-event outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("seq", name=op.f("uq_event_outbox_seq")),
    )
    op.create_index(op.f("ix_event_outbox_type"), "event_outbox", ["type"])
    op.create_index(op.f("ix_event_outbox_tenant_id"), "event_outbox", ["tenant_id"])
    op.create_index(
        "ix_event_outbox_unpublished",
        "event_outbox",
        ["seq"],
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "odoo_hosts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("master_password_encrypted", sa.Text(), nullable=False),
        sa.Column("postgres_url_encrypted", sa.Text(), nullable=True),
        sa.Column("odoo_version", sa.String(length=20), nullable=False),
        sa.Column("server_version", sa.String(length=60), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False),
        sa.Column("is_emulator", sa.Boolean(), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_latency_ms", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("template_admin_password_encrypted", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_odoo_hosts")),
        sa.UniqueConstraint("name", name=op.f("uq_odoo_hosts_name")),
    )

    op.create_table(
        "instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("host_id", sa.Uuid(), nullable=True),
        sa.Column("database_name", sa.String(length=63), nullable=False),
        sa.Column("odoo_version", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("flow", sa.String(length=30), nullable=True),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("admin_login", sa.String(length=320), nullable=False),
        sa.Column("admin_password_encrypted", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_instances_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["odoo_hosts.id"],
            name=op.f("fk_instances_host_id_odoo_hosts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    op.create_index(
        "uq_instances_host_database_live",
        "instances",
        ["host_id", "database_name"],
        unique=True,
        postgresql_where=sa.text("status <> 'deleted'"),
    )
    op.create_index(op.f("ix_instances_host_id"), "instances", ["host_id"])
    op.create_index("ix_instances_tenant_id_kind", "instances", ["tenant_id", "kind"])

    op.create_table(
        "instance_transitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_instance_transitions_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_transitions")),
    )
    op.create_index(
        op.f("ix_instance_transitions_instance_id"), "instance_transitions", ["instance_id"]
    )


def downgrade() -> None:
    op.drop_table("instance_transitions")
    op.drop_table("instances")
    op.drop_table("odoo_hosts")
    op.drop_table("event_outbox")
