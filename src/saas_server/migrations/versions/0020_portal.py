"""the client portal: its state per tenant, the synced copy of the tenant's Odoo, portal
sessions, files, notifications and settings

Revision ID: 0020_portal
Revises: 0019_ops
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_portal"
down_revision = "0019_ops"
branch_labels = None
depends_on = None


def _tenant(nullable: bool = False) -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", name=None, ondelete="CASCADE"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "portal_tenants",
        _tenant(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("modules", postgresql.JSONB(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_portal_tenants")),
    )
    op.create_table(
        "portal_sync_states",
        _tenant(),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("cursor", sa.String(32), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("last_changed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "model", name=op.f("pk_portal_sync_states")),
    )
    op.create_table(
        "portal_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant(),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("odoo_id", sa.Integer(), nullable=False),
        sa.Column("commercial_id", sa.Integer(), nullable=True),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("odoo_write_date", sa.String(32), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_records")),
    )
    op.create_index(
        "uq_portal_records_tenant_model_odoo",
        "portal_records",
        ["tenant_id", "model", "odoo_id"],
        unique=True,
    )
    op.create_index(
        "ix_portal_records_tenant_model_partner",
        "portal_records",
        ["tenant_id", "model", "commercial_id"],
    )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant(),
        sa.Column("odoo_uid", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("commercial_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(320), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("odoo_session", postgresql.JSONB(), nullable=False),
        sa.Column("odoo_session_id_encrypted", sa.Text(), nullable=False),
        sa.Column("refresh_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint(
            "refresh_token_hash", name=op.f("uq_portal_sessions_refresh_token_hash")
        ),
    )
    op.create_index(op.f("ix_portal_sessions_tenant_id"), "portal_sessions", ["tenant_id"])
    op.create_table(
        "portal_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant(),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("res_model", sa.String(64), nullable=False),
        sa.Column("res_id", sa.Integer(), nullable=False),
        sa.Column("commercial_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mimetype", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_files")),
    )
    op.create_index(op.f("ix_portal_files_tenant_id"), "portal_files", ["tenant_id"])
    op.create_table(
        "portal_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant(),
        sa.Column("commercial_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_notifications")),
    )
    op.create_index(
        "ix_portal_notifications_recipient",
        "portal_notifications",
        ["tenant_id", "commercial_id", "created_at"],
    )
    op.create_index(
        "uq_portal_notifications_dedupe",
        "portal_notifications",
        ["tenant_id", "dedupe_key"],
        unique=True,
    )
    op.create_table(
        "portal_settings",
        _tenant(),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("theme", sa.String(10), nullable=False),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("notify_push", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "subject", name=op.f("pk_portal_settings")),
    )


def downgrade() -> None:
    for table in (
        "portal_settings",
        "portal_notifications",
        "portal_files",
        "portal_sessions",
        "portal_records",
        "portal_sync_states",
        "portal_tenants",
    ):
        op.drop_table(table)
