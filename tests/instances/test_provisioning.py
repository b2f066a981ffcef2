"""Tenants get a working Odoo database: end to end over HTTP, on the emulator."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess, RpcError, databases
from tests.fixtures.provisioning import add_host, subdomain, until_settled

pytestmark = pytest.mark.slow


async def test_end_to_end_tenant_gets_a_working_odoo(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    host = await add_host(client, admin, odoo)
    assert host["status"] == "healthy"
    assert host["odoo_version"] == odoo.version
    assert "master_password" not in host and "postgres_url" not in host

    name = subdomain()
    created = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Acme Brewing",
            "subdomain": name,
            "settings": {"timezone": "Europe/Brussels", "language": "en_US"},
            "admin_email": "boss@acme.example.com",
            "admin_password": "odoo-admin-pass-1",
        },
        headers=owner.headers,
    )
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] == "provisioning"
    assert body["estimated_completion"]

    tenant = await until_settled(client, runtime, body["id"], owner.headers)
    assert tenant["status"] == "ready", tenant
    instance = tenant["instance"]
    assert instance["status"] == "ready"
    assert instance["database"] == name
    assert instance["odoo_version"] == odoo.version
    assert instance["host"]["name"] == host["name"]
    assert instance["admin_login"] == "boss@acme.example.com"
    assert instance["admin_password"] == "odoo-admin-pass-1"
    assert instance["url"] == f"{odoo.url}/web?db={name}"
    assert instance["ready_at"]

    # Odoo's own protocol: the admin given logs in, and reads what the platform set.
    uid = odoo.rpc("common", "authenticate", name, "boss@acme.example.com", "odoo-admin-pass-1", {})
    assert isinstance(uid, int) and uid > 0

    def call(model: str, method: str, args: list[Any], kw: dict[str, Any] | None = None) -> Any:
        return odoo.rpc(
            "object", "execute_kw", name, uid, "odoo-admin-pass-1", model, method, args, kw or {}
        )

    companies = call("res.company", "search_read", [[]], {"fields": ["name"]})
    assert companies[0]["name"] == "Acme Brewing"
    assert call("ir.config_parameter", "get_param", ["web.base.url"]) == odoo.url
    assert call("ir.config_parameter", "get_param", ["web.base.url.freeze"]) == "True"
    assert call("ir.config_parameter", "get_param", ["database.expiration_date"])
    users = call("res.users", "read", [[uid]], {"fields": ["tz", "login"]})
    assert users[0]["tz"] == "Europe/Brussels"

    # Every transition was recorded, with its reason.
    transitions = await client.get(
        f"/api/v1/instances/{instance['id']}/transitions", headers=owner.headers
    )
    assert [(t["from_status"], t["to_status"]) for t in transitions.json()] == [
        ("pending", "provisioning"),
        ("provisioning", "ready"),
    ]


async def test_generated_password_is_shown_to_owners_only(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant = (
        await client.post(
            "/api/v1/tenants", json={"name": "Gen", "subdomain": subdomain()}, headers=owner.headers
        )
    ).json()
    settled = await until_settled(client, runtime, tenant["id"], owner.headers)
    password = settled["instance"]["admin_password"]
    assert password and len(password) >= 16
    assert settled["instance"]["admin_login"] == "owner@example.com"
    as_admin = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=admin.headers)
    assert as_admin.json()["instance"]["admin_password"] is None
    uid = odoo.rpc(
        "common", "authenticate", settled["instance"]["database"], "owner@example.com", password, {}
    )
    assert uid


async def test_waits_for_a_host_then_provisions(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    tenant = (
        await client.post(
            "/api/v1/tenants",
            json={"name": "Early", "subdomain": subdomain()},
            headers=owner.headers,
        )
    ).json()
    waiting = await until_settled(client, runtime, tenant["id"], owner.headers)
    assert waiting["instance"]["status"] == "pending"
    assert "No healthy Odoo 18.0 host" in waiting["instance"]["status_reason"]
    await add_host(client, admin, odoo)
    ready = await until_settled(client, runtime, tenant["id"], owner.headers)
    assert ready["status"] == "ready"


async def test_host_down_fails_clearly_and_retry_recovers(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    odoo.stop()
    tenant = (
        await client.post(
            "/api/v1/tenants",
            json={"name": "Unlucky", "subdomain": subdomain()},
            headers=owner.headers,
        )
    ).json()
    failed = await until_settled(client, runtime, tenant["id"], owner.headers)
    assert failed["status"] == "failed"
    instance = failed["instance"]
    assert instance["status"] == "failed"
    assert "cannot be reached" in instance["status_reason"]
    assert instance["error"]["code"] == "PROVISIONING_FAILED"

    odoo.start()
    retry = await client.post(
        f"/api/v1/instances/{instance['id']}/actions",
        json={"action": "retry"},
        headers=owner.headers,
    )
    assert retry.status_code == 202, retry.text
    ready = await until_settled(client, runtime, tenant["id"], owner.headers)
    assert ready["status"] == "ready", ready["instance"]


async def test_lifecycle_actions_and_conflicts(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    password = "odoo-admin-pass-2"
    tenant = (
        await client.post(
            "/api/v1/tenants",
            json={"name": "Cycle", "subdomain": subdomain(), "admin_password": password},
            headers=owner.headers,
        )
    ).json()
    ready = await until_settled(client, runtime, tenant["id"], owner.headers)
    instance, database = ready["instance"], ready["instance"]["database"]
    url = f"/api/v1/instances/{instance['id']}/actions"

    async def act(action: str) -> httpx.Response:
        return await client.post(url, json={"action": action}, headers=owner.headers)

    for action in ("start", "retry"):
        assert_envelope(await act(action), 409, "CONFLICT")
    assert odoo.rpc("common", "authenticate", database, "owner@example.com", password, {})

    stopped = await act("stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    with pytest.raises(RpcError):
        odoo.rpc("common", "authenticate", database, "owner@example.com", password, {})
    for action in ("stop", "restart", "retry"):
        assert_envelope(await act(action), 409, "CONFLICT")

    started = await act("start")
    assert started.json()["status"] == "ready"
    assert odoo.rpc("common", "authenticate", database, "owner@example.com", password, {})
    assert (await act("restart")).status_code == 200

    events = [
        e.type
        for e in await _events(runtime, uuid.UUID(tenant["id"]))
        if not e.type.endswith(".progress")  # the steps' events (tests/realtime/test_progress)
    ]
    assert events[:2] == ["tenant.created", "tenant.ready"]
    assert "instance.stopped" in events and "instance.started" in events


async def test_delete_drops_the_database(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant = (
        await client.post(
            "/api/v1/tenants",
            json={"name": "Doomed", "subdomain": subdomain()},
            headers=owner.headers,
        )
    ).json()
    ready = await until_settled(client, runtime, tenant["id"], owner.headers)
    database = ready["instance"]["database"]
    # Stopped first: deletion reopens it before dropping.
    await client.post(
        f"/api/v1/instances/{ready['instance']['id']}/actions",
        json={"action": "stop"},
        headers=owner.headers,
    )
    assert database in databases(odoo.postgres_url)
    deleted = await client.delete(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert deleted.status_code == 202
    assert deleted.json()["status"] == "deleting"
    await runtime.run_pending_jobs()
    assert database not in databases(odoo.postgres_url)
    # The owner follows the deletion during the grace period (issue 13 item 3).
    followed = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert followed.status_code == 200 and followed.json()["status"] == "deleted"
    seen = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=admin.headers)
    assert seen.json()["status"] == "deleted"
    assert seen.json()["instance"]["status"] == "deleted"
    assert "tenant.deleted" in [e.type for e in await _events(runtime, uuid.UUID(tenant["id"]))]


async def test_tier_change_moves_the_expiry(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    password = "odoo-admin-pass-3"
    tenant = (
        await client.post(
            "/api/v1/tenants",
            json={"name": "Grower", "subdomain": subdomain(), "admin_password": password},
            headers=owner.headers,
        )
    ).json()
    ready = await until_settled(client, runtime, tenant["id"], owner.headers)
    before = ready["instance"]["expires_at"]
    upgraded = await client.put(
        f"/api/v1/tenants/{tenant['id']}", json={"tier": "professional"}, headers=owner.headers
    )
    assert upgraded.json()["limits"]["max_users"] == 50
    after = await until_settled(client, runtime, tenant["id"], owner.headers)
    assert after["instance"]["expires_at"] > before
    database = after["instance"]["database"]
    uid = odoo.rpc("common", "authenticate", database, "owner@example.com", password, {})
    expiry = odoo.rpc(
        "object",
        "execute_kw",
        database,
        uid,
        password,
        "ir.config_parameter",
        "get_param",
        ["database.expiration_date"],
        {},
    )
    assert expiry.startswith(after["instance"]["expires_at"][:10])


async def _events(runtime: Runtime, tenant_id: uuid.UUID) -> list[Any]:
    from saas_server.events.service import events_of

    async with runtime.db.sessionmaker() as session:
        return await events_of(session, tenant_id)
