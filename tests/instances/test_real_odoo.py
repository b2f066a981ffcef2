"""The whole platform with a real Odoo server registered as a host.

Runs only with SAAS_TEST_ODOO_URL, SAAS_TEST_ODOO_MASTER_PASSWORD and
SAAS_TEST_ODOO_POSTGRES_URL (SQL access to that server's PostgreSQL, for stop/start).
"""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from saas_server.core.runtime import Runtime
from saas_server.instances.deletion import closed_name
from saas_server.odoo.driver import Credentials
from saas_server.odoo.errors import OdooFault
from saas_server.odoo.rpc_driver import RpcDriver
from tests.fixtures.auth import LoggedIn, platform_admin, verified_user
from tests.fixtures.odoo import made_for_host
from tests.fixtures.smtp import Inbox

URL = os.environ.get("SAAS_TEST_ODOO_URL")
MASTER = os.environ.get("SAAS_TEST_ODOO_MASTER_PASSWORD", "")
POSTGRES = os.environ.get("SAAS_TEST_ODOO_POSTGRES_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (URL and POSTGRES), reason="needs a real Odoo (SAAS_TEST_ODOO_URL)"),
]


async def register_real_host(
    client: httpx.AsyncClient, admin: LoggedIn, version: str
) -> httpx.Response:
    response = await client.post(
        "/api/v1/admin/odoo-hosts",
        json={
            "name": "real",
            "url": URL,
            "master_password": MASTER,
            "odoo_version": version,
            "capacity": 10,
            "postgres_url": POSTGRES,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return response


async def test_provision_login_stop_start_delete_on_a_real_server(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    assert URL is not None
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    version = (await RpcDriver(URL, MASTER).server_version()).major
    host = await register_real_host(client, admin, version)
    assert host.json()["status"] == "healthy"
    name = "r" + uuid.uuid4().hex[:10]
    created = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Real Co",
            "subdomain": name,
            "odoo_version": version,
            "admin_password": "real-admin-pass-1",
        },
        headers=owner.headers,
    )
    assert created.status_code == 202, created.text
    tenant_id = created.json()["id"]
    driver = RpcDriver(URL, MASTER, postgres_url=POSTGRES)
    closed = "none"
    try:
        await runtime.run_pending_jobs()
        tenant = (await client.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)).json()
        closed = closed_name(runtime, uuid.UUID(tenant["instance"]["id"]))
        assert tenant["status"] == "ready", tenant["instance"]
        instance = tenant["instance"]
        admin_login = Credentials("owner@example.com", "real-admin-pass-1")
        uid = await driver.authenticate(name, admin_login)
        assert uid
        company = await driver.client.execute_kw(
            name,
            uid,
            admin_login.password,
            "res.company",
            "search_read",
            [[]],
            {"fields": ["name"]},
        )
        assert company[0]["name"] == "Real Co"
        freeze = await driver.client.execute_kw(
            name,
            uid,
            admin_login.password,
            "ir.config_parameter",
            "get_param",
            ["web.base.url.freeze"],
        )
        assert freeze == "True"

        actions = f"/api/v1/instances/{instance['id']}/actions"
        assert (
            await client.post(actions, json={"action": "stop"}, headers=owner.headers)
        ).status_code == 200
        with pytest.raises(OdooFault):
            await driver.authenticate(name, admin_login)
        assert (
            await client.post(actions, json={"action": "start"}, headers=owner.headers)
        ).status_code == 200
        assert await driver.authenticate(name, admin_login)

        assert (
            await client.delete(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)
        ).status_code == 202
        # Closed from the moment the deletion is accepted, before any job ran.
        with pytest.raises(OdooFault):
            await driver.authenticate(name, admin_login)
        await runtime.run_pending_jobs()
        assert not await driver.database_exists(name)
        assert not await driver.database_exists(closed)
        followed = await client.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)
        assert followed.json()["status"] == "deleted"
        kept = await client.get(
            f"/api/v1/tenants/{tenant_id}/backups",
            params={"type": "pre_delete"},
            headers=owner.headers,
        )
        assert [b["status"] for b in kept.json()["results"]] == ["completed"]
    finally:
        made = made_for_host(await driver.client.list_databases(), host.json()["id"])
        for leftover in (name, closed, *made):
            if await driver.database_exists(leftover):
                await driver.drop(leftover)
        await driver.close()


async def test_a_standby_database_becomes_a_tenant_on_a_real_server(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    """db.rename, the tenant's values and the login on a real server (hosts/standby.py)."""
    from saas_server.instances.hosts import standby

    assert URL is not None
    runtime.settings.standby_databases_per_host = 1
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    version = (await RpcDriver(URL, MASTER).server_version()).major
    host = await register_real_host(client, admin, version)
    host_id = uuid.UUID(host.json()["id"])
    prefix = f"{standby.STANDBY_PREFIX}{version.replace('.', '_')}_{host_id.hex[:8]}_"
    name = "r" + uuid.uuid4().hex[:10]
    driver = RpcDriver(URL, MASTER, postgres_url=POSTGRES)
    try:
        assert await standby.tend(runtime) is standby.TendResult.MORE
        assert await standby.tend(runtime) is standby.TendResult.DONE
        spares = [d for d in await driver.client.list_databases() if d.startswith(prefix)]
        assert len(spares) == 1
        created = await client.post(
            "/api/v1/tenants",
            json={"name": "Real Standby Co", "subdomain": name, "odoo_version": version},
            headers=owner.headers,
        )
        assert created.status_code == 202, created.text
        await runtime.run_pending_jobs()
        tenant = (
            await client.get(f"/api/v1/tenants/{created.json()['id']}", headers=owner.headers)
        ).json()
        assert tenant["status"] == "ready", tenant["instance"]["error"]
        assert not await driver.database_exists(spares[0])
        admin_login = Credentials("owner@example.com", tenant["instance"]["admin_password"])
        uid = await driver.authenticate(name, admin_login)
        assert uid

        async def call(model: str, method: str, *args: object, **kw: object) -> object:
            return await driver.client.execute_kw(
                name, uid, admin_login.password, model, method, list(args), kw
            )

        company = await call("res.company", "search_read", [], fields=["name"])
        assert company[0]["name"] == "Real Standby Co"  # type: ignore[index]
        assert await call("ir.config_parameter", "get_param", "web.base.url.freeze") == "True"
        assert (
            await client.delete(f"/api/v1/tenants/{created.json()['id']}", headers=owner.headers)
        ).status_code == 202
        await runtime.run_pending_jobs()
        assert not await driver.database_exists(name)
    finally:
        made = made_for_host(await driver.client.list_databases(), host_id)
        for leftover in (name, *made):
            if await driver.database_exists(leftover):
                await driver.drop(leftover)
        await driver.close()


async def test_tenants_asked_for_while_a_real_server_makes_the_template_all_get_ready(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    """Issue 13 item 2 on a real server: the pool starts the template (about 10 s of
    create_database there); tenants asked for meanwhile are provisioned beside it, and none
    clones (so closes) the template before its creation has finished and been recorded."""
    import asyncio

    from saas_server.instances.hosts import standby, templates

    assert URL is not None
    runtime.settings.standby_databases_per_host = 1
    admin = await platform_admin(client, runtime)
    owner = await verified_user(client, runtime, inbox, "owner@example.com")
    version = (await RpcDriver(URL, MASTER).server_version()).major
    host = await register_real_host(client, admin, version)
    host_id = uuid.UUID(host.json()["id"])
    template = templates.template_name(version, host_id)
    driver = RpcDriver(URL, MASTER, postgres_url=POSTGRES)
    names = ["r" + uuid.uuid4().hex[:10] for _ in range(2)]
    try:
        pool = asyncio.create_task(standby.tend(runtime))
        deadline = asyncio.get_running_loop().time() + 60
        while not await driver.database_exists(template):  # being created now
            assert asyncio.get_running_loop().time() < deadline, "the template never appeared"
            await asyncio.sleep(0.05)
        tenant_ids = []
        for name in names:
            created = await client.post(
                "/api/v1/tenants",
                json={"name": "Early bird", "subdomain": name, "odoo_version": version},
                headers=owner.headers,
            )
            assert created.status_code == 202, created.text
            tenant_ids.append(created.json()["id"])
        await runtime.run_worker(wait=False, concurrency=len(names), listen_notify=False)
        assert await pool is not None
        for tenant_id in tenant_ids:
            tenant = (
                await client.get(f"/api/v1/tenants/{tenant_id}", headers=owner.headers)
            ).json()
            assert tenant["status"] == "ready", tenant["instance"]
            login = Credentials("owner@example.com", tenant["instance"]["admin_password"])
            assert await driver.authenticate(tenant["subdomain"], login)
    finally:
        made = made_for_host(await driver.client.list_databases(), host_id)
        for leftover in (*names, *made):
            if await driver.database_exists(leftover):
                await driver.drop(leftover)
        await driver.close()
