"""Deleting a tenant ends access at once and can be followed (issue 13 item 3): over HTTP,
with Odoo's side checked over its own RPC on the emulator."""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
import zipfile
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.backups import Tenant, download, ready_tenant, restore
from tests.fixtures.errors import assert_envelope
from tests.fixtures.odoo import EmulatorProcess, RpcError, databases
from tests.fixtures.provisioning import add_host, subdomain
from tests.fixtures.smtp import Inbox

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Plain settings by default; a test's indirect parametrize gives its own."""
    return dict(getattr(request, "param", {}))


def login_works(tenant: Tenant) -> bool:
    """The tenant's admin logging in to its database by name, as any Odoo client would."""
    try:
        uid = tenant.odoo.rpc(
            "common", "authenticate", tenant.database, tenant.login, tenant.password, {}
        )
    except RpcError:
        return False
    return bool(uid)


async def run_jobs_watching_logins(runtime: Runtime, tenant: Tenant) -> list[bool]:
    """Run the due jobs while another thread keeps trying to log in; every attempt's outcome."""
    attempts: list[bool] = []
    done = threading.Event()

    def keep_trying() -> None:
        while not done.is_set():
            attempts.append(login_works(tenant))
            done.wait(0.02)

    watcher = threading.Thread(target=keep_trying)
    watcher.start()
    try:
        await runtime.run_pending_jobs()
    finally:
        done.set()
        await asyncio.to_thread(watcher.join)
    return attempts


async def test_deletion_ends_logins_at_once_and_the_owner_follows_and_recovers_it(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    tenant.call("res.partner", "create", {"name": "Probe Last Words"})
    assert login_works(tenant)
    url = f"/api/v1/tenants/{tenant.id}"

    deleted = await client.delete(url, headers=owner.headers)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["status"] == "deleting"
    # Accepted means closed: no job has run yet, and the admin is already refused.
    assert not login_works(tenant)
    following = await client.get(url, headers=owner.headers)
    assert following.status_code == 200, following.text
    assert following.json()["status"] == "deleting"
    assert following.json()["instance"]["status"] == "deleting"
    grace_ends_at = following.json()["grace_ends_at"]
    deleted_at = datetime.fromisoformat(following.json()["deleted_at"])
    assert datetime.fromisoformat(grace_ends_at) == deleted_at + timedelta(days=30)

    # The job backs the database up and drops it; not one login gets in meanwhile.
    attempts = await run_jobs_watching_logins(runtime, tenant)
    assert attempts and not any(attempts), attempts
    gone = (await client.get(url, headers=owner.headers)).json()
    assert gone["status"] == "deleted", gone
    assert gone["instance"]["status"] == "deleted"
    assert gone["instance"]["step"] == "drop_database"
    assert gone["grace_ends_at"] == grace_ends_at
    left = databases(odoo.postgres_url)
    assert tenant.database not in left
    assert not [name for name in left if name.startswith("deleting-")]
    # Gone from the owner's list of live tenants, still under ?status=deleted.
    live = (await client.get("/api/v1/tenants", headers=owner.headers)).json()
    assert tenant.id not in [t["id"] for t in live["results"]]

    # During the grace period the owner lists, downloads and restores the pre-delete backup.
    listed = await client.get(
        f"{url}/backups", params={"type": "pre_delete"}, headers=owner.headers
    )
    assert listed.status_code == 200, listed.text
    [backup] = listed.json()["results"]
    assert backup["status"] == "completed"
    detail = (await client.get(f"{url}/backups/{backup['id']}", headers=owner.headers)).json()
    archive = await download(client, detail)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert b"Probe Last Words" in zipped.read("dump.sql")
    over_itself = await client.post(
        f"{url}/backups/{backup['id']}/restore", json={}, headers=owner.headers
    )
    assert_envelope(over_itself, 409, "CONFLICT")
    revived = subdomain()
    done = await restore(
        client,
        runtime,
        owner,
        tenant.id,
        backup["id"],
        {"new_tenant": {"name": "Revived", "subdomain": revived}},
    )
    assert done["status"] == "completed", done
    copy = (await client.get(f"/api/v1/tenants/{done['tenant_id']}", headers=owner.headers)).json()
    assert copy["status"] == "ready", copy
    twin = Tenant(id=copy["id"], database=copy["instance"]["database"], odoo=odoo)
    assert twin.partner_names() == {"Probe Last Words"}

    # What a deleted tenant still refuses: changes, new backups.
    patch = await client.patch(url, json={"name": "Back"}, headers=owner.headers)
    assert_envelope(patch, 404, "TENANT_NOT_FOUND")
    new_backup = await client.post(f"{url}/backups", headers=owner.headers)
    assert_envelope(new_backup, 404, "TENANT_NOT_FOUND")

    # Its subdomain is held, and the answer says until when.
    other = await verified_user(client, runtime, inbox, "other@example.com")
    taken = await client.post(
        "/api/v1/tenants",
        json={"name": "Squatter", "subdomain": tenant.database},
        headers=other.headers,
    )
    error = assert_envelope(taken, 400, "INVALID_SUBDOMAIN")
    assert error["details"]["reason"] == "held"
    assert error["details"]["held_until"] == grace_ends_at
    assert grace_ends_at in error["message"]
    # And someone who is not its owner never sees the deleted tenant.
    assert_envelope(await client.get(url, headers=other.headers), 404, "TENANT_NOT_FOUND")


async def test_a_member_who_is_not_an_owner_loses_the_tenant_at_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    member = await verified_user(client, runtime, inbox, "member@example.com")
    added = await client.post(
        f"/api/v1/tenants/{tenant.id}/users",
        json={"email": "member@example.com", "role": "admin"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    await client.delete(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
    for path in ("", "/backups"):
        seen = await client.get(f"/api/v1/tenants/{tenant.id}{path}", headers=member.headers)
        assert_envelope(seen, 404, "TENANT_NOT_FOUND")


async def test_the_owner_follows_until_the_grace_period_ends(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
    clock: Any,
) -> None:
    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    await client.delete(f"/api/v1/tenants/{tenant.id}", headers=owner.headers)
    await runtime.run_pending_jobs()
    clock.advance(timedelta(days=29, hours=23))
    headers = (await _login_again(client, owner)).headers
    seen = await client.get(f"/api/v1/tenants/{tenant.id}", headers=headers)
    assert seen.status_code == 200 and seen.json()["status"] == "deleted"
    clock.advance(timedelta(hours=2))
    headers = (await _login_again(client, owner)).headers
    late = await client.get(f"/api/v1/tenants/{tenant.id}", headers=headers)
    assert_envelope(late, 404, "TENANT_NOT_FOUND")


async def _login_again(client: httpx.AsyncClient, user: LoggedIn) -> LoggedIn:
    from tests.fixtures.auth import login

    return await login(client, user.email)


@pytest.mark.parametrize(
    "settings_overrides", [{"faults": {"delete.pre_delete_backup": "fail"}}], indirect=True
)
async def test_a_deletion_that_fails_midway_stays_closed_and_resumes(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    from saas_server.instances import deletion

    await add_host(client, admin, odoo)
    tenant = await ready_tenant(client, runtime, owner, odoo)
    url = f"/api/v1/tenants/{tenant.id}"
    await client.delete(url, headers=owner.headers)
    await runtime.run_pending_jobs()  # closed, then the injected failure
    stuck = (await client.get(url, headers=owner.headers)).json()
    assert stuck["status"] == "deleting"
    assert stuck["instance"]["step"] == "close"
    assert stuck["instance"]["error"]["step"] == "pre_delete_backup"
    assert not login_works(tenant)
    instance_id = stuck["instance"]["id"]
    closed = deletion.closed_name(runtime, uuid.UUID(instance_id))
    assert closed in databases(odoo.postgres_url)
    assert tenant.database not in databases(odoo.postgres_url)

    runtime.settings.faults.clear()  # the cause goes away; the retried job goes on
    await deletion.delete(runtime, uuid.UUID(instance_id))
    done = (await client.get(url, headers=owner.headers)).json()
    assert done["status"] == "deleted", done
    assert closed not in databases(odoo.postgres_url)
    backups = await client.get(
        f"{url}/backups", params={"type": "pre_delete"}, headers=owner.headers
    )
    assert [b["status"] for b in backups.json()["results"]] == ["completed"]
