"""auth cache invalidation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

API processes keep the principals of recent requests in memory (auth/principal_cache.py)
and listen on the ``saas_auth_changed`` channel. These triggers announce every change to a
user or a login session, whoever makes it (another API process, a worker, the CLI, raw
SQL), with the user's id as the payload; ``*`` means "forget everyone" (TRUNCATE).
NOTIFY is transactional: it is delivered only when the change commits.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANNEL = "saas_auth_changed"

NOTIFY_USER_CHANGED = f"""
CREATE FUNCTION auth_notify_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', OLD.id::text);
    RETURN NULL;
END;
$$
"""

NOTIFY_SESSION_CHANGED = f"""
CREATE FUNCTION auth_notify_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', OLD.user_id::text);
    IF TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        PERFORM pg_notify('{CHANNEL}', NEW.user_id::text);
    END IF;
    RETURN NULL;
END;
$$
"""

# TRUNCATE fires no row trigger; a statement trigger tells listeners to drop everything.
NOTIFY_ALL_CHANGED = f"""
CREATE FUNCTION auth_notify_all_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '*');
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.execute(NOTIFY_USER_CHANGED)
    op.execute(NOTIFY_SESSION_CHANGED)
    op.execute(NOTIFY_ALL_CHANGED)
    # INSERT needs no trigger: nothing can be cached for a row that did not exist.
    op.execute(
        "CREATE TRIGGER users_notify_auth_changed AFTER UPDATE OR DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION auth_notify_user_changed()"
    )
    op.execute(
        "CREATE TRIGGER auth_sessions_notify_auth_changed AFTER UPDATE OR DELETE ON auth_sessions "
        "FOR EACH ROW EXECUTE FUNCTION auth_notify_session_changed()"
    )
    for table in ("users", "auth_sessions"):
        op.execute(
            f"CREATE TRIGGER {table}_notify_auth_truncated AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all_changed()"
        )


def downgrade() -> None:
    for table in ("users", "auth_sessions"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_auth_truncated ON {table}")
    op.execute("DROP TRIGGER IF EXISTS auth_sessions_notify_auth_changed ON auth_sessions")
    op.execute("DROP TRIGGER IF EXISTS users_notify_auth_changed ON users")
    op.execute("DROP FUNCTION IF EXISTS auth_notify_all_changed()")
    op.execute("DROP FUNCTION IF EXISTS auth_notify_session_changed()")
    op.execute("DROP FUNCTION IF EXISTS auth_notify_user_changed()")
