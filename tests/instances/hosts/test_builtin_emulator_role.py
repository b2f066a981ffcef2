"""The built-in emulator runs under its own PostgreSQL role on the embedded server: like Odoo
for its role, it lists only its own databases (never the platform's), and that role is enough
for everything the platform does with its tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from saas_server.app import create_app
from saas_server.core.embedded_postgres import EMULATOR_ROLE
from saas_server.core.runtime import EMBEDDED_DATABASE, Runtime
from saas_server.instances.hosts.emulator import BuiltinEmulator
from saas_server.instances.hosts.models import OdooHost
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.backups import ready_tenant, restore, take_backup
from tests.fixtures.embedded import embedded_dir, embedded_settings
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.smtp import Inbox, SmtpServer, free_port

pytestmark = pytest.mark.slow
__all__ = ["embedded_dir"]  # the fixture, imported for this module's tests


@pytest.fixture
async def builtin(
    embedded_dir: Path, smtp_server: SmtpServer
) -> AsyncIterator[tuple[Runtime, BuiltinEmulator]]:
    settings = embedded_settings(
        embedded_dir / "data",
        odoo_emulator="on",
        odoo_emulator_port=free_port(),
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        standby_databases_per_host=0,
    )
    runtime = await Runtime.open(settings, migrate=True)
    emulator = BuiltinEmulator(runtime)
    try:
        await emulator.start()
        yield runtime, emulator
    finally:
        await emulator.stop()
        await runtime.close()


def db_list(url: str) -> list[str]:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"service": "db", "method": "list", "args": []},
    }
    answer = httpx.post(url + "/jsonrpc", json=body, timeout=60).json()
    return list(answer["result"])


async def test_the_builtin_emulator_lists_only_its_own_databases_and_serves_tenants(
    builtin: tuple[Runtime, BuiltinEmulator], inbox: Inbox
) -> None:
    runtime, emulator = builtin
    assert emulator.url is not None
    assert EMBEDDED_DATABASE not in db_list(emulator.url)
    assert db_list(emulator.url) == []

    async with runtime.db.transaction() as session:
        # One host per version the emulator plays, each under the emulator's role.
        hosts = (await session.execute(select(OdooHost))).scalars().all()
        assert {host.url for host in hosts} == set(emulator.urls.values())
        for host in hosts:
            assert host.postgres_url_encrypted is not None
            postgres_url = runtime.secrets.decrypt(host.postgres_url_encrypted)
            assert make_url(postgres_url).username == EMULATOR_ROLE

    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await platform_admin(client, runtime)
        owner = await verified_user(client, runtime, inbox, "owner@example.com")
        odoo = EmulatorProcess("postgresql://unused@127.0.0.1/postgres", Path("/nonexistent"))
        odoo.url, odoo.version = emulator.url, runtime.settings.default_odoo_version
        tenant = await ready_tenant(client, runtime, owner, odoo)
        listed = db_list(emulator.url)
        assert tenant.database in listed and EMBEDDED_DATABASE not in listed

        with psycopg.connect(postgres_url) as conn:
            owner_role = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                (tenant.database,),
            ).fetchone()
        assert owner_role == (EMULATOR_ROLE,)

        # Stop and start (ALTER DATABASE through the host's PostgreSQL URL), backup, restore.
        for action in ("stop", "start"):
            instance = (
                await client.get(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
            ).json()["instance"]
            acted = await client.post(
                f"/api/v1/instances/{instance['id']}/actions",
                json={"action": action},
                headers=owner.headers,
            )
            assert acted.status_code in (200, 202), acted.text
            await runtime.run_pending_jobs()
        tenant.call("res.partner", "create", {"name": "Probe Before"})
        backup = await take_backup(client, runtime, owner, tenant)
        tenant.call("res.partner", "create", {"name": "Probe After"})
        done = await restore(client, runtime, owner, tenant.id, backup["id"])
        assert done["status"] == "completed", done
        assert tenant.partner_names() == {"Probe Before"}
        assert EMBEDDED_DATABASE not in db_list(emulator.url)

        # Its hosts declare the emulator's Odoo log: the tenant's log shows its lines.
        logs = await client.get(
            f"/api/v1/tenants/{tenant.id}/logs",
            params={"search": "Login successful"},
            headers=owner.headers,
        )
        body = logs.json()
        assert body["sources"]["odoo_server"] == "ok", body
        assert any(
            e["source"] == "odoo_server" and f"db:{tenant.database} " in e["message"]
            for e in body["results"]
        ), body
