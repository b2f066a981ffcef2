"""Alembic environment: a sync psycopg connection, serialised by an advisory lock."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from saas_server.core.db import Base, sqlalchemy_url
from saas_server.migrations_support import include_object
from saas_server.models import import_all_models

import_all_models()
target_metadata = Base.metadata

# Two processes starting together (`saas serve` on two machines) must not both migrate.
MIGRATION_LOCK_ID = 7_277_361_001


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = create_engine(sqlalchemy_url(url), hide_parameters=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_object=include_object,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


run_migrations_online()
