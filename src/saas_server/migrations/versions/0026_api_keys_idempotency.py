"""API keys announce their revocation on saas_auth_changed; idempotent requests beyond billing

Revision ID: 0026_api_keys_idempotency
Revises: 0025_refresh_grace
Create Date: 2026-12-05

An open event stream authenticated with a key must end when the key is revoked, expires
sooner or is deleted, on whichever API process serves it (realtime/service.py). Keys are
never cached, so nothing announced their changes: this trigger notifies the key's user's id
on ``saas_auth_changed`` (migration 0005), and the process's listener wakes that user's
streams to check their caller again. Only the columns that decide whether a key is valid:
``last_used_at`` and ``recent_ips`` change on use and announce nothing.

``billing_idempotent_requests`` becomes ``idempotent_requests``: ``Idempotency-Key`` is
honoured on creating tenants and taking and restoring backups too (core/idempotency.py).
"""

from __future__ import annotations

from alembic import op

revision = "0026_api_keys_idempotency"
down_revision = "0025_refresh_grace"
branch_labels = None
depends_on = None

CHANNEL = "saas_auth_changed"

NOTIFY_API_KEY_CHANGED = f"""
CREATE FUNCTION auth_notify_api_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', OLD.user_id::text);
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    _rename("billing_idempotent_requests", "idempotent_requests")
    op.execute(NOTIFY_API_KEY_CHANGED)
    op.execute(
        "CREATE TRIGGER api_keys_notify_auth_changed "
        "AFTER UPDATE OF revoked_at, expires_at, scopes, tenant_id OR DELETE ON api_keys "
        "FOR EACH ROW EXECUTE FUNCTION auth_notify_api_key_changed()"
    )
    op.execute(
        "CREATE TRIGGER api_keys_notify_auth_truncated AFTER TRUNCATE ON api_keys "
        "FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS api_keys_notify_auth_truncated ON api_keys")
    op.execute("DROP TRIGGER IF EXISTS api_keys_notify_auth_changed ON api_keys")
    op.execute("DROP FUNCTION IF EXISTS auth_notify_api_key_changed()")
    _rename("idempotent_requests", "billing_idempotent_requests")


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}")
    op.execute(
        f"ALTER TABLE {new} RENAME CONSTRAINT fk_{old}_user_id_users TO fk_{new}_user_id_users"
    )
