"""Job queue: procrastinate's schema, at the version pinned in the lock file.

Later procrastinate upgrades add a migration applying that release's own migration files.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from importlib.resources import files

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = files("procrastinate.sql").joinpath("schema.sql").read_text()
    op.execute(schema)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
            procrastinate_jobs, procrastinate_workers CASCADE;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
            procrastinate_job_status CASCADE;
        """
    )
