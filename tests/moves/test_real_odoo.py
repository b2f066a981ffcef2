"""A move between two real Odoo servers of one version.

Runs only with both SAAS_TEST_ODOO_URL, SAAS_TEST_ODOO_MASTER_PASSWORD,
SAAS_TEST_ODOO_POSTGRES_URL (the source) and SAAS_TEST_ODOO_URL_2,
SAAS_TEST_ODOO_MASTER_PASSWORD_2, SAAS_TEST_ODOO_POSTGRES_URL_2 (the target).
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from saas_server.core.runtime import Runtime
from saas_server.odoo.driver import Credentials
from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.auth import platform_admin, verified_user
from tests.fixtures.moves import run_move
from tests.fixtures.odoo import made_for_host
from tests.fixtures.smtp import Inbox

SERVERS = [
    (
        os.environ.get(f"SAAS_TEST_ODOO_URL{suffix}"),
        os.environ.get(f"SAAS_TEST_ODOO_MASTER_PASSWORD{suffix}", ""),
        os.environ.get(f"SAAS_TEST_ODOO_POSTGRES_URL{suffix}"),
    )
    for suffix in ("", "_2")
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(url and postgres for url, _, postgres in SERVERS),
        reason="needs two real Odoo servers (SAAS_TEST_ODOO_URL and SAAS_TEST_ODOO_URL_2)",
    ),
]

ADMIN = Credentials("owner@example.com", "real-admin-pass-1")


async def read(driver: RpcDriver, database: str) -> dict[str, Any]:
    uid = await driver.authenticate(database, ADMIN)
    assert uid

    async def call(model: str, method: str, *args: Any, **kw: Any) -> Any:
        return await driver.client.execute_kw(
            database, uid, ADMIN.password, model, method, list(args), kw
        )

    partners = await call("res.partner", "search_read", [], fields=["name"], order="id")
    files = await call(
        "ir.attachment", "search_read", [["name", "like", "probe-"]], fields=["name", "datas"]
    )
    return {
        "partners": [p["name"] for p in partners],
        "files": {f["name"]: f["datas"] for f in files},
    }


async def _precopy_done(target_postgres: str) -> None:
    """Until the target server's role has a closed database: the pre-copy restored and
    logged in to, then closed until the switch."""
    for _ in range(1200):
        async with await psycopg.AsyncConnection.connect(target_postgres) as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM pg_database WHERE NOT datallowconn"
                    " AND pg_get_userbyid(datdba) = current_user"
                )
            ).fetchone()
        if row:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the pre-copy never ended")


async def test_a_move_between_two_real_servers_keeps_records_and_files(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    drivers = [RpcDriver(url or "", master, postgres_url=pg) for url, master, pg in SERVERS]
    version = (await drivers[0].server_version()).major
    assert (await drivers[1].server_version()).major == version
    hosts = []
    for index, (url, master, postgres) in enumerate(SERVERS):
        added = await client.post(
            "/api/v1/admin/odoo-hosts",
            json={
                "name": f"real-{index}",
                "url": url,
                "master_password": master,
                "odoo_version": version,
                "capacity": 10,
                "postgres_url": postgres,
            },
            headers=admin.headers,
        )
        assert added.status_code == 201, added.text
        hosts.append(added.json())
    name = "m" + uuid.uuid4().hex[:10]
    target_name = name
    try:
        # The tenant lands on the first: the second is drained until it is created.
        drained = await client.post(
            f"/api/v1/admin/odoo-hosts/{hosts[1]['id']}/actions",
            json={"action": "drain"},
            headers=admin.headers,
        )
        assert drained.status_code == 200, drained.text
        created = await client.post(
            "/api/v1/tenants",
            json={
                "name": "Real Move Co",
                "subdomain": name,
                "odoo_version": version,
                "admin_password": ADMIN.password,
            },
            headers=owner.headers,
        )
        assert created.status_code == 202, created.text
        tenant_id = created.json()["id"]
        await runtime.run_pending_jobs()
        activated = await client.post(
            f"/api/v1/admin/odoo-hosts/{hosts[1]['id']}/actions",
            json={"action": "activate"},
            headers=admin.headers,
        )
        assert activated.status_code == 200, activated.text
        uid = await drivers[0].authenticate(name, ADMIN)
        assert uid
        for index in range(5):
            await drivers[0].client.execute_kw(
                name, uid, ADMIN.password, "res.partner", "create", [{"name": f"Probe {index}"}]
            )
        content = base64.b64encode(b"a real file " * 5000).decode()
        await drivers[0].client.execute_kw(
            name,
            uid,
            ADMIN.password,
            "ir.attachment",
            "create",
            [{"name": "probe-1.bin", "datas": content}],
        )
        # The flow waits after the pre-copy (the source still serving) while the tenant
        # writes: those rows reach the target through the catch-up.
        runtime.settings.faults["move.precopy"] = "sleep:5"
        moving = asyncio.create_task(run_move(client, runtime, admin, tenant_id, hosts[1]["id"]))
        await _precopy_done(SERVERS[1][2] or "")
        late = await drivers[0].authenticate(name, ADMIN)
        assert late
        await drivers[0].client.execute_kw(
            name, late, ADMIN.password, "res.partner", "create", [{"name": "Probe late"}]
        )
        before = await read(drivers[0], name)
        move = await moving
        runtime.settings.faults.clear()

        assert move["status"] == "completed", move
        target_name = move["target_database"]
        print(
            f"real Odoo {version}: logins refused for {move['login_refused_ms']} ms,"
            f" caught up: {move['catch_up']}"
        )
        assert "Probe late" in before["partners"]
        assert await read(drivers[1], target_name) == before
        assert move["catch_up"]["mode"] == "tables", move["catch_up"]
        assert "public.res_partner" in move["catch_up"]["tables"]
        assert not await drivers[0].database_exists(name)
        assert not any("_moving_" in db for db in await drivers[0].client.list_databases())
    finally:
        for driver, host in zip(drivers, hosts, strict=False):
            # Only what this server's role owns: two servers may share one PostgreSQL, where
            # db_exist also sees (and ALTER DATABASE refuses) the other role's databases.
            listed = await driver.client.list_databases()
            made = made_for_host(listed, host["id"])
            for leftover in {name, target_name, *made}:
                if leftover in listed:
                    await driver.drop(leftover)
            await driver.close()
