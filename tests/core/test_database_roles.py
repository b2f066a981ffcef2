"""The platform never connects as a PostgreSQL superuser: on the embedded default the
superuser only bootstraps, the platform runs as an owner role that cannot switch off the
audit log's append-only trigger; an external superuser URL is warned about."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from saas_server.audit import checkpoints
from saas_server.audit import service as audit
from saas_server.core.embedded_postgres import AUDIT_ROLE, EMULATOR_ROLE, PLATFORM_ROLE
from saas_server.core.runtime import Runtime
from saas_server.wiring import start_runtime
from tests.fixtures.embedded import embedded_dir, embedded_settings

__all__ = ["embedded_dir"]  # the fixture, imported for this module's tests


@pytest.fixture
async def embedded_runtime(embedded_dir: Path) -> AsyncIterator[Runtime]:
    runtime = await start_runtime(embedded_settings(embedded_dir / "data"), migrate=True)
    try:
        yield runtime
    finally:
        await runtime.close()


async def test_the_embedded_platform_role_owns_its_tables_but_cannot_touch_the_audit_trigger(
    embedded_runtime: Runtime,
) -> None:
    assert make_url(embedded_runtime.database_url).username == PLATFORM_ROLE
    async with embedded_runtime.db.transaction() as session:
        await audit.record(session, action="test.step", resource_type="thing")

    with psycopg.connect(embedded_runtime.database_url, autocommit=True) as conn:
        is_super, creates_roles = conn.execute(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert not is_super and not creates_roles
        owners = dict(
            conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")
        )
        assert owners.pop("audit_log") == AUDIT_ROLE
        assert set(owners.values()) == {PLATFORM_ROLE}, owners  # migrations ran as the owner
        attempts = [
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END; $$",
            "SET session_replication_role = replica",
            "ALTER TABLE audit_log OWNER TO " + PLATFORM_ROLE,
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_log SET action = 'x'",
        ]
        for statement in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)

    async with embedded_runtime.db.transaction() as session:
        report = await checkpoints.verify(session, checkpoints.CheckpointFile.of(embedded_runtime))
    assert report.broken is None and report.chain.checked == 1


async def test_the_embedded_emulator_role_only_creates_databases(
    embedded_runtime: Runtime,
) -> None:
    assert embedded_runtime.emulator_database_url is not None
    assert make_url(embedded_runtime.emulator_database_url).username == EMULATOR_ROLE
    with psycopg.connect(embedded_runtime.emulator_database_url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, True, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER DATABASE saas_server ALLOW_CONNECTIONS false")


async def test_an_external_superuser_url_is_warned_about(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(database_url) as conn:
        superuser = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    caplog.set_level(logging.WARNING, logger="saas_server.core.runtime")
    runtime = await start_runtime(embedded_settings(tmp_path / "data", database_url=database_url))
    await runtime.close()
    warned = [r for r in caplog.records if "superuser" in r.getMessage()]
    assert bool(warned) == bool(superuser and superuser[0])
