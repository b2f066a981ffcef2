"""Security events, threats and the IP block list

Revision ID: 0015_security
Revises: 0014_monitoring
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_security"
down_revision = "0014_monitoring"
branch_labels = None
depends_on = None

# Every API process keeps the block list in memory and reloads it when this is heard
# (security/blocklist.py). NOTIFY is transactional: heard only once the change commits.
BLOCKLIST_CHANNEL = "saas_security_blocklist"
NOTIFY_BLOCKLIST_CHANGED = f"""
CREATE FUNCTION saas_notify_blocklist_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{BLOCKLIST_CHANNEL}', '*');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.String(512), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_events_type_occurred", "security_events", ["type", "occurred_at"])
    op.create_index("ix_security_events_occurred", "security_events", ["occurred_at"])

    op.create_table(
        "threats",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.Column("account", sa.String(320), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_threats_active_subject",
        "threats",
        ["type", "subject"],
        unique=True,
        postgresql_where=sa.text("status <> 'resolved'"),
    )
    op.create_index("ix_threats_status_last_seen", "threats", ["status", "last_seen_at"])

    op.create_table(
        "blocked_ips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("threat_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("network", name=op.f("uq_blocked_ips_network")),
    )
    op.execute(NOTIFY_BLOCKLIST_CHANGED)

    op.create_table(
        "security_scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("findings", postgresql.JSONB(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_security_scans_tenant_created", "security_scans", ["tenant_id", "created_at"]
    )
    op.execute(
        "CREATE TRIGGER blocked_ips_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON blocked_ips FOR EACH STATEMENT EXECUTE FUNCTION saas_notify_blocklist_changed()"
    )


def downgrade() -> None:
    op.drop_index("ix_security_scans_tenant_created", table_name="security_scans")
    op.drop_table("security_scans")
    op.execute("DROP TRIGGER IF EXISTS blocked_ips_notify ON blocked_ips")
    op.execute("DROP FUNCTION IF EXISTS saas_notify_blocklist_changed()")
    op.drop_table("blocked_ips")
    op.drop_index("ix_threats_status_last_seen", table_name="threats")
    op.drop_index("uq_threats_active_subject", table_name="threats")
    op.drop_table("threats")
    op.drop_index("ix_security_events_occurred", table_name="security_events")
    op.drop_index("ix_security_events_type_occurred", table_name="security_events")
    op.drop_table("security_events")
