"""Standby databases: the pool per host, claimed by provisioning, kept tidy (emulator)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from saas_server.core.db import with_database
from saas_server.core.runtime import Runtime
from saas_server.instances.hosts import standby
from saas_server.instances.hosts.models import StandbyDatabase, StandbyStatus
from saas_server.instances.models import Instance
from tests.fixtures.auth import LoggedIn
from tests.fixtures.odoo import EmulatorProcess, databases
from tests.fixtures.provisioning import add_host, subdomain, until_settled
from tests.fixtures.standby import fill

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"standby_databases_per_host": 2}


async def rows(runtime: Runtime) -> list[StandbyDatabase]:
    async with runtime.db.sessionmaker() as session:
        found = await session.execute(select(StandbyDatabase).order_by(StandbyDatabase.created_at))
        return list(found.scalars())


def standby_databases(odoo: EmulatorProcess, host_id: str) -> set[str]:
    prefix = f"{standby.STANDBY_PREFIX}18_0_{uuid.UUID(host_id).hex[:8]}_"
    return {d for d in databases(odoo.postgres_url) if d.startswith(prefix)}


def admin_hash(odoo: EmulatorProcess, database: str, uid: int) -> str:
    with psycopg.connect(with_database(odoo.postgres_url, database)) as conn:
        row = conn.execute("SELECT password FROM res_users WHERE id = %s", (uid,)).fetchone()
        assert row is not None
        return str(row[0])


async def host_view(client: httpx.AsyncClient, admin: LoggedIn, host_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/admin/odoo-hosts/{host_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_pool_fills_to_the_setting_and_shows_on_the_host(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    host = await add_host(client, admin, odoo)
    assert host["standby_count"] == 0
    await fill(runtime)

    assert (await host_view(client, admin, host["id"]))["standby_count"] == 2
    listed = await client.get("/api/v1/admin/odoo-hosts", headers=admin.headers)
    assert [h["standby_count"] for h in listed.json()["results"]] == [2]
    pool = await rows(runtime)
    assert [r.status for r in pool] == [StandbyStatus.READY.value] * 2
    assert standby_databases(odoo, host["id"]) == {r.database_name for r in pool}
    for row in pool:
        # Each has its own admin password, hashed as Odoo hashes it, proven by a login.
        password = runtime.secrets.decrypt(row.admin_password_encrypted)
        uid = odoo.rpc("common", "authenticate", row.database_name, "admin", password, {})
        assert uid == row.admin_uid
        assert admin_hash(odoo, row.database_name, uid).startswith("$pbkdf2-sha512$600000$")
    # A full pool is left alone.
    assert await standby.tend(runtime) is standby.TendResult.DONE
    assert len(await rows(runtime)) == 2


async def test_provisioning_renames_a_standby_without_hashing_again(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    oldest = (await rows(runtime))[0]
    assert oldest.admin_uid is not None
    hashed = admin_hash(odoo, oldest.database_name, oldest.admin_uid)
    filestore = odoo.data_dir / "filestore"
    had_filestore = (filestore / oldest.database_name).exists()

    name = subdomain()
    created = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Quick Start",
            "subdomain": name,
            "settings": {"timezone": "Europe/Brussels"},
            "admin_email": "boss@quick.example.com",
        },
        headers=owner.headers,
    )
    assert created.status_code == 202, created.text
    # A generated password is not shown until provisioning settles on one.
    assert created.json()["instance"]["admin_password"] is None

    tenant = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert tenant["status"] == "ready", tenant
    instance = tenant["instance"]
    assert instance["database"] == name
    password = instance["admin_password"]
    # The tenant's generated password is the standby's, whose hash was written ahead.
    assert password == runtime.secrets.decrypt(oldest.admin_password_encrypted)
    assert admin_hash(odoo, name, oldest.admin_uid) == hashed
    assert oldest.database_name not in databases(odoo.postgres_url)
    # The filestore folder followed the database (db.rename moves it, as Odoo does).
    assert had_filestore
    assert (filestore / name).is_dir() and not (filestore / oldest.database_name).exists()

    uid = odoo.rpc("common", "authenticate", name, "boss@quick.example.com", password, {})
    assert uid

    def call(model: str, method: str, args: list[Any], kw: dict[str, Any] | None = None) -> Any:
        return odoo.rpc("object", "execute_kw", name, uid, password, model, method, args, kw or {})

    assert call("res.company", "search_read", [[]], {"fields": ["name"]})[0]["name"] == (
        "Quick Start"
    )
    assert call("ir.config_parameter", "get_param", ["web.base.url"]) == odoo.url
    assert call("ir.config_parameter", "get_param", ["web.base.url.freeze"]) == "True"
    assert call("ir.config_parameter", "get_param", ["database.expiration_date"])
    assert call("res.users", "read", [[uid]], {"fields": ["tz"]})[0]["tz"] == "Europe/Brussels"
    # The standby's own login name is gone.
    assert odoo.rpc("common", "authenticate", name, "admin", password, {}) is False

    # The pool is one short (the job tops it up later) and forgets the claimed one.
    assert (await host_view(client, admin, host["id"]))["standby_count"] == 1
    assert oldest.id not in {r.id for r in await rows(runtime)}
    transitions = await client.get(
        f"/api/v1/instances/{instance['id']}/transitions", headers=owner.headers
    )
    assert [(t["from_status"], t["to_status"]) for t in transitions.json()] == [
        ("pending", "provisioning"),
        ("provisioning", "ready"),
    ]
    await fill(runtime)
    assert (await host_view(client, admin, host["id"]))["standby_count"] == 2


async def test_a_chosen_password_is_written_on_the_standby(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    await fill(runtime)
    oldest = (await rows(runtime))[0]
    standby_password = runtime.secrets.decrypt(oldest.admin_password_encrypted)
    name = subdomain()
    created = await client.post(
        "/api/v1/tenants",
        json={"name": "Own", "subdomain": name, "admin_password": "chosen-pass-123"},
        headers=owner.headers,
    )
    assert created.json()["instance"]["admin_password"] == "chosen-pass-123"
    tenant = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert tenant["status"] == "ready", tenant
    assert tenant["instance"]["admin_password"] == "chosen-pass-123"
    login = "owner@example.com"
    assert odoo.rpc("common", "authenticate", name, login, "chosen-pass-123", {})
    assert odoo.rpc("common", "authenticate", name, login, standby_password, {}) is False


async def test_an_empty_pool_falls_back_to_cloning(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    runtime.settings.standby_databases_per_host = 1
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    names = [subdomain(), subdomain()]
    ids = []
    for name in names:
        created = await client.post(
            "/api/v1/tenants", json={"name": name, "subdomain": name}, headers=owner.headers
        )
        ids.append(created.json()["id"])
    for tenant_id, name in zip(ids, names, strict=True):
        tenant = await until_settled(client, runtime, tenant_id, owner.headers)
        assert tenant["status"] == "ready", tenant
        password = tenant["instance"]["admin_password"]
        assert password
        assert odoo.rpc("common", "authenticate", name, "owner@example.com", password, {})
    assert standby_databases(odoo, host["id"]) == set()
    assert await rows(runtime) == []


async def test_pool_off_and_draining_drop_the_spares(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    assert len(standby_databases(odoo, host["id"])) == 2

    runtime.settings.standby_databases_per_host = 1
    await fill(runtime)
    assert len(standby_databases(odoo, host["id"])) == 1
    assert (await host_view(client, admin, host["id"]))["standby_count"] == 1

    drained = await client.post(
        f"/api/v1/admin/odoo-hosts/{host['id']}/actions",
        json={"action": "drain"},
        headers=admin.headers,
    )
    assert drained.status_code == 200
    await fill(runtime)
    assert standby_databases(odoo, host["id"]) == set()
    assert await rows(runtime) == []

    await client.post(
        f"/api/v1/admin/odoo-hosts/{host['id']}/actions",
        json={"action": "activate"},
        headers=admin.headers,
    )
    runtime.settings.standby_databases_per_host = 0
    await fill(runtime)
    assert standby_databases(odoo, host["id"]) == set()


async def test_removing_a_host_drops_its_spares(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    assert len(standby_databases(odoo, host["id"])) == 2
    removed = await client.delete(f"/api/v1/admin/odoo-hosts/{host['id']}", headers=admin.headers)
    assert removed.status_code == 204
    assert standby_databases(odoo, host["id"]) == set()
    assert await rows(runtime) == []


async def test_a_claim_left_by_a_deleted_tenant_is_dropped(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    # Fails after the claim, before the rename: the spare is still under its own name.
    runtime.settings.faults = {"provision.ensure_template": "fail"}
    created = await client.post(
        "/api/v1/tenants", json={"name": "Gone", "subdomain": subdomain()}, headers=owner.headers
    )
    failed = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert failed["instance"]["status"] == "failed"
    assert failed["instance"]["step"] == "claim_standby"
    claimed = [r for r in await rows(runtime) if r.status == StandbyStatus.CLAIMED.value]
    assert len(claimed) == 1
    # The password settled with the claim: shown although provisioning failed.
    assert failed["instance"]["admin_password"] == runtime.secrets.decrypt(
        claimed[0].admin_password_encrypted
    )
    assert claimed[0].database_name in databases(odoo.postgres_url)
    runtime.settings.faults = {}

    deleted = await client.delete(f"/api/v1/tenants/{created.json()['id']}", headers=owner.headers)
    assert deleted.status_code == 202
    await runtime.run_pending_jobs()
    await fill(runtime)
    assert claimed[0].database_name not in databases(odoo.postgres_url)
    assert claimed[0].id not in {r.id for r in await rows(runtime)}
    # ... and the pool is full again.
    assert len(standby_databases(odoo, host["id"])) == 2


async def test_retry_after_a_failed_rename_uses_the_same_standby(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    await fill(runtime)
    # Fails after the rename, before it is recorded: the retry finds it renamed.
    runtime.settings.faults = {"provision.create_database": "fail"}
    name = subdomain()
    created = await client.post(
        "/api/v1/tenants", json={"name": "Again", "subdomain": name}, headers=owner.headers
    )
    failed = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert failed["instance"]["status"] == "failed"
    claimed = next(r for r in await rows(runtime) if r.status == StandbyStatus.CLAIMED.value)
    runtime.settings.faults = {}

    retried = await client.post(
        f"/api/v1/instances/{failed['instance']['id']}/actions",
        json={"action": "retry"},
        headers=owner.headers,
    )
    assert retried.status_code == 202
    ready = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert ready["status"] == "ready", ready
    assert claimed.database_name not in databases(odoo.postgres_url)
    assert name in databases(odoo.postgres_url)
    password = ready["instance"]["admin_password"]
    assert password == runtime.secrets.decrypt(claimed.admin_password_encrypted)
    assert odoo.rpc("common", "authenticate", name, "owner@example.com", password, {})


async def test_a_vanished_standby_falls_back_to_cloning(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    runtime.settings.standby_databases_per_host = 1
    await add_host(client, admin, odoo)
    await fill(runtime)
    (row,) = await rows(runtime)
    # Someone drops the spare behind the platform's back.
    with psycopg.connect(odoo.postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(row.database_name))
        )
    name = subdomain()
    created = await client.post(
        "/api/v1/tenants", json={"name": "Fallback", "subdomain": name}, headers=owner.headers
    )
    ready = await until_settled(client, runtime, created.json()["id"], owner.headers)
    assert ready["status"] == "ready", ready
    password = ready["instance"]["admin_password"]
    assert odoo.rpc("common", "authenticate", name, "owner@example.com", password, {})
    assert await rows(runtime) == []


async def test_a_standby_that_fails_is_dropped_and_made_again(
    client: httpx.AsyncClient, runtime: Runtime, admin: LoggedIn, odoo: EmulatorProcess
) -> None:
    runtime.settings.standby_databases_per_host = 1
    host = await add_host(client, admin, odoo)
    runtime.settings.faults = {"standby.clone": "fail"}
    # A failure is not retried at once (the next scheduled run does).
    assert await standby.tend(runtime) is standby.TendResult.DONE
    (row,) = await rows(runtime)
    assert row.status == StandbyStatus.DROPPING.value
    runtime.settings.faults = {}
    await fill(runtime)
    (fresh,) = await rows(runtime)
    assert fresh.status == StandbyStatus.READY.value and fresh.id != row.id
    assert standby_databases(odoo, host["id"]) == {fresh.database_name}


async def test_no_standby_while_provisioning_is_queued(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    created = await client.post(
        "/api/v1/tenants", json={"name": "First", "subdomain": subdomain()}, headers=owner.headers
    )
    assert await standby.tend(runtime) is standby.TendResult.LATER
    assert await rows(runtime) == []
    await until_settled(client, runtime, created.json()["id"], owner.headers)
    await fill(runtime)
    assert len(await rows(runtime)) == 2


async def test_instances_show_no_provisional_password(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    created = await client.post(
        "/api/v1/tenants", json={"name": "Waiting", "subdomain": subdomain()}, headers=owner.headers
    )
    instance = created.json()["instance"]
    assert instance["status"] == "pending" and instance["admin_password"] is None
    async with runtime.db.sessionmaker() as session:
        row = await session.get(Instance, uuid.UUID(instance["id"]))
        assert row is not None and row.admin_password_provisional


async def test_each_tenant_keeps_a_database_identity_of_its_own(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    """Claiming writes no new uuid or secret: duplicate_database gave each standby its own."""
    host = await add_host(client, admin, odoo)
    await fill(runtime)
    names = [subdomain(), subdomain()]
    identities = []
    for name in names:
        created = await client.post(
            "/api/v1/tenants", json={"name": name, "subdomain": name}, headers=owner.headers
        )
        assert (await until_settled(client, runtime, created.json()["id"], owner.headers))[
            "status"
        ] == "ready"
    template = f"saas_template_18_0_{uuid.UUID(host['id']).hex[:8]}"
    for database in (*names, template):
        with psycopg.connect(with_database(odoo.postgres_url, database)) as conn:
            found = dict(
                conn.execute(
                    "SELECT key, value FROM ir_config_parameter"
                    " WHERE key IN ('database.uuid', 'database.secret')"
                ).fetchall()
            )
        identities.append((found["database.uuid"], found["database.secret"]))
    assert len({uuid_ for uuid_, _ in identities}) == 3
    assert len({secret for _, secret in identities}) == 3
