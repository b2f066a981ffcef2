"""maintenance mode, tenant metric time series

Revision ID: 0014_monitoring
Revises: 0013_integrations
Create Date: 2026-12-05

The maintenance switch is one row; API processes keep it in memory and listen on
``saas_maintenance_changed``, which a trigger notifies on every change (NOTIFY is
transactional: heard only once the change commits). Tenant metrics are points per tenant,
metric, granularity (raw, hour, day) and bucket start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_monitoring"
down_revision = "0013_integrations"
branch_labels = None
depends_on = None

CHANNEL = "saas_maintenance_changed"

NOTIFY_MAINTENANCE_CHANGED = f"""
CREATE FUNCTION maintenance_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "maintenance_mode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(NOTIFY_MAINTENANCE_CHANGED)
    op.execute(
        "CREATE TRIGGER maintenance_mode_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON maintenance_mode FOR EACH STATEMENT EXECUTE FUNCTION maintenance_notify_changed()"
    )

    op.create_table(
        "tenant_metric_points",
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
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("granularity", sa.String(10), nullable=False),
        sa.Column("bucket_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=False),
        sa.Column("max_value", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "metric", "granularity", "bucket_at"),
    )
    op.create_index(
        "ix_tenant_metric_points_granularity_bucket_at",
        "tenant_metric_points",
        ["granularity", "bucket_at"],
    )


def downgrade() -> None:
    op.drop_table("tenant_metric_points")
    op.drop_table("maintenance_mode")
    op.execute("DROP FUNCTION maintenance_notify_changed()")
