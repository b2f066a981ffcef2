"""integrations: providers, inbound events and their attempts, user links, Odoo webhook secrets

Revision ID: 0013_integrations
Revises: 0012_webhooks
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_integrations"
down_revision = "0012_webhooks"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "integration_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("api_base_url", sa.String(2000), nullable=True),
        sa.Column("auth_type", sa.String(20), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("allowed_ips", postgresql.JSONB(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("rate_limit", sa.String(40), nullable=False),
        sa.Column("health_status", sa.String(20), nullable=False),
        sa.Column("health_response_time_ms", sa.Integer(), nullable=True),
        sa.Column("health_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health_error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_integration_providers"),
        sa.UniqueConstraint("name", name="uq_integration_providers_name"),
    )
    op.create_table(
        "integration_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("instance_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_integration_events"),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["integration_providers.id"],
            name="fk_integration_events_provider_id_integration_providers",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_integration_events_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name="fk_integration_events_instance_id_instances",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("source", "event_id", name="uq_integration_events_source_event_id"),
    )
    op.create_index("ix_integration_events_created", "integration_events", ["created_at"])
    op.create_index(
        "ix_integration_events_status_next", "integration_events", ["status", "next_attempt_at"]
    )
    op.create_index("ix_integration_events_provider_id", "integration_events", ["provider_id"])
    op.create_index("ix_integration_events_tenant_id", "integration_events", ["tenant_id"])

    op.create_table(
        "integration_event_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integration_event_attempts"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["integration_events.id"],
            name="fk_integration_event_attempts_event_id_integration_events",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_integration_event_attempts_event_id", "integration_event_attempts", ["event_id"]
    )

    op.create_table(
        "integration_user_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_integration_user_links"),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["integration_providers.id"],
            name="fk_integration_user_links_provider_id_integration_providers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_integration_user_links_user_id_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "provider_id", "external_id", name="uq_integration_user_links_external"
        ),
    )
    op.create_index("ix_integration_user_links_user_id", "integration_user_links", ["user_id"])

    op.create_table(
        "odoo_webhook_secrets",
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("install_error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("instance_id", name="pk_odoo_webhook_secrets"),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name="fk_odoo_webhook_secrets_instance_id_instances",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("odoo_webhook_secrets")
    op.drop_table("integration_user_links")
    op.drop_table("integration_event_attempts")
    op.drop_table("integration_events")
    op.drop_table("integration_providers")
