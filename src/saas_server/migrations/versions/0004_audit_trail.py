"""audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Statement-level, so even an UPDATE or DELETE matching no row is refused, and TRUNCATE
# (which row triggers never see) too. Only a superuser or the table's owner can get past
# it, by disabling the trigger: the hash chain (``saas audit verify``) shows what they did.
REFUSE_CHANGES = """
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit entries can only be added.';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        # No foreign keys: entries outlive the users and tenants they name.
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
    )
    # (filter, timestamp, seq): a filter and a date range, in "-timestamp" order, is one
    # backward index range scan that stops at the page's LIMIT.
    op.create_index(
        "ix_audit_log_tenant_id_timestamp", "audit_log", ["tenant_id", "timestamp", "seq"]
    )
    op.create_index("ix_audit_log_user_id_timestamp", "audit_log", ["user_id", "timestamp", "seq"])
    op.create_index("ix_audit_log_timestamp", "audit_log", ["timestamp", "seq"])
    op.execute(REFUSE_CHANGES)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_refuse_change()")
    op.drop_index("ix_audit_log_timestamp", table_name="audit_log")
    op.drop_index("ix_audit_log_user_id_timestamp", table_name="audit_log")
    op.drop_index("ix_audit_log_tenant_id_timestamp", table_name="audit_log")
    op.drop_table("audit_log")
