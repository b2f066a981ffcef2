"""The /users API: who may list, create, read, update and delete whom."""

from __future__ import annotations

from typing import Any

import httpx

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login, register, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


async def test_admin_creates_lists_updates_and_deletes(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={
            "name": "John Doe",
            "email": "john.doe@example.com",
            "password": "a-secure-passphrase",
            "roles": ["user"],
            "metadata": {"department": "Engineering"},
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["name"] == "John Doe" and user["roles"] == ["user"]
    assert user["metadata"] == {"department": "Engineering"}

    listed = await client.get("/api/v1/users?search=john&is_active=true", headers=admin.headers)
    assert [u["email"] for u in listed.json()["results"]] == ["john.doe@example.com"]

    updated = await client.put(
        f"/api/v1/users/{user['id']}",
        json={"name": "John Updated", "roles": ["user", "admin"], "is_active": True},
        headers=admin.headers,
    )
    assert updated.status_code == 200
    assert updated.json()["full_name"] == "John Updated"
    assert updated.json()["role"] == "admin"

    deleted = await client.delete(f"/api/v1/users/{user['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert_envelope(
        await client.get(f"/api/v1/users/{user['id']}", headers=admin.headers),
        404,
        "USER_NOT_FOUND",
    )


async def test_created_without_password_gets_a_mail_to_choose_one(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "nopw@example.com", "full_name": "No Pw"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("nopw@example.com")).token()
    done = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "chosen-by-the-user"},
    )
    assert done.status_code == 200
    assert (await login(client, "nopw@example.com", "chosen-by-the-user")).user["email_verified"]


async def test_users_read_and_update_only_themselves(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await register(client, "self@example.com")
    me = await login(client, "self@example.com")
    await register(client, "stranger@example.com")
    stranger = await login(client, "stranger@example.com")

    listed = (await client.get("/api/v1/users", headers=me.headers)).json()
    assert [u["email"] for u in listed["results"]] == ["self@example.com"]
    assert (
        await client.get(f"/api/v1/users/{me.user['id']}", headers=me.headers)
    ).status_code == 200
    other = await client.get(f"/api/v1/users/{stranger.user['id']}", headers=me.headers)
    assert_envelope(other, 404, "USER_NOT_FOUND")

    renamed = await client.patch(
        f"/api/v1/users/{me.user['id']}", json={"first_name": "Selfie"}, headers=me.headers
    )
    assert renamed.json()["first_name"] == "Selfie"
    escalate = await client.patch(
        f"/api/v1/users/{me.user['id']}", json={"role": "admin"}, headers=me.headers
    )
    assert_envelope(escalate, 403, "FORBIDDEN")
    create = await client.post(
        "/api/v1/users", json={"email": "x@example.com", "full_name": "X"}, headers=me.headers
    )
    assert_envelope(create, 403, "FORBIDDEN")


async def test_tenant_admin_creates_users_into_and_lists_their_tenant(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    owner = await verified_user(client, runtime, inbox, "boss@example.com")
    tenant: dict[str, Any] = await create_tenant(client, owner, "bossco")
    other_owner = await verified_user(client, runtime, inbox, "rival@example.com")
    rival: dict[str, Any] = await create_tenant(client, other_owner, "rivalco")

    created = await client.post(
        "/api/v1/users",
        json={
            "email": "staff@example.com",
            "full_name": "Staff Member",
            "password": "staff-passphrase-1",
            "tenant_id": tenant["id"],
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    listed = await client.get(f"/api/v1/users?tenant_id={tenant['id']}", headers=owner.headers)
    assert {u["email"] for u in listed.json()["results"]} == {
        "boss@example.com",
        "staff@example.com",
    }
    assert {
        u["email"]
        for u in (await client.get("/api/v1/users", headers=owner.headers)).json()["results"]
    } == {"boss@example.com", "staff@example.com"}

    into_rival = await client.post(
        "/api/v1/users",
        json={"email": "spy@example.com", "full_name": "Spy", "tenant_id": rival["id"]},
        headers=owner.headers,
    )
    assert_envelope(into_rival, 404, "TENANT_NOT_FOUND")
    peek = await client.get(f"/api/v1/users?tenant_id={rival['id']}", headers=owner.headers)
    assert_envelope(peek, 404, "TENANT_NOT_FOUND")

    staff = await login(client, "staff@example.com", "staff-passphrase-1")
    tenants = await client.get(f"/api/v1/users/{staff.user['id']}/tenants", headers=staff.headers)
    assert [(t["subdomain"], t["role"]) for t in tenants.json()["results"]] == [
        ("bossco", "member")
    ]


async def test_deleting_the_last_owner_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, admin: LoggedIn
) -> None:
    owner = await verified_user(client, runtime, inbox, "sole@example.com")
    tenant = await create_tenant(client, owner, "soleco")
    refused = await client.delete(f"/api/v1/users/{owner.user['id']}", headers=admin.headers)
    error = assert_envelope(refused, 409, "CONFLICT")
    assert error["details"]["tenants"][0]["id"] == tenant["id"]
    self_delete = await client.delete(f"/api/v1/users/{owner.user['id']}", headers=owner.headers)
    assert self_delete.status_code == 409

    # After deleting the tenant, the account can go.
    await client.delete(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert (
        await client.delete(f"/api/v1/users/{owner.user['id']}", headers=owner.headers)
    ).status_code == 204


async def test_suspending_a_user_ends_their_sessions(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await register(client, "bad@example.com")
    bad = await login(client, "bad@example.com")
    suspended = await client.patch(
        f"/api/v1/users/{bad.user['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert suspended.status_code == 200
    assert_envelope(await client.get("/api/v1/auth/me", headers=bad.headers), 401, "UNAUTHORIZED")
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": "bad@example.com", "password": bad.password}
    )
    assert relogin.status_code == 401
