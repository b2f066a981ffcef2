"""Members: roles, the last-owner rule, ownership transfer, invitations through real mail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, login, register
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


@pytest.fixture
async def tenant(client: httpx.AsyncClient, owner: LoggedIn) -> dict[str, Any]:
    return await create_tenant(client, owner, "team")


async def _member(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn, email: str, role: str
) -> LoggedIn:
    await register(client, email)
    added = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"email": email, "role": role},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["role"] == role
    return await login(client, email)


async def test_existing_user_is_added_directly(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn
) -> None:
    member = await _member(client, tenant, owner, "m@example.com", "member")
    seen = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=member.headers)
    assert seen.status_code == 200
    assert seen.json()["member_count"] == 2
    duplicate = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"user_id": member.user["id"]},
        headers=owner.headers,
    )
    assert_envelope(duplicate, 409, "CONFLICT")


async def test_members_cannot_manage_members(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn
) -> None:
    member = await _member(client, tenant, owner, "m@example.com", "member")
    response = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"email": "new@example.com"},
        headers=member.headers,
    )
    assert_envelope(response, 403, "FORBIDDEN")
    change = await client.patch(
        f"/api/v1/tenants/{tenant['id']}/users/{owner.user['id']}",
        json={"role": "member"},
        headers=member.headers,
    )
    assert_envelope(change, 403, "FORBIDDEN")
    rename = await client.patch(
        f"/api/v1/tenants/{tenant['id']}", json={"name": "Hijacked"}, headers=member.headers
    )
    assert_envelope(rename, 403, "FORBIDDEN")


async def test_admins_manage_members_but_not_owners(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn
) -> None:
    admin = await _member(client, tenant, owner, "a@example.com", "admin")
    member = await _member(client, tenant, admin, "m@example.com", "member")
    promoted = await client.patch(
        f"/api/v1/tenants/{tenant['id']}/users/{member.user['id']}",
        json={"role": "admin"},
        headers=admin.headers,
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    to_owner = await client.patch(
        f"/api/v1/tenants/{tenant['id']}/users/{member.user['id']}",
        json={"role": "owner"},
        headers=admin.headers,
    )
    assert_envelope(to_owner, 403, "FORBIDDEN")
    remove_owner = await client.delete(
        f"/api/v1/tenants/{tenant['id']}/users/{owner.user['id']}", headers=admin.headers
    )
    assert_envelope(remove_owner, 403, "FORBIDDEN")
    removed = await client.delete(
        f"/api/v1/tenants/{tenant['id']}/users/{member.user['id']}", headers=admin.headers
    )
    assert removed.status_code == 204
    gone = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=member.headers)
    assert_envelope(gone, 404, "TENANT_NOT_FOUND")


async def test_last_owner_cannot_be_removed_or_demoted(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn
) -> None:
    url = f"/api/v1/tenants/{tenant['id']}/users/{owner.user['id']}"
    demote = await client.patch(url, json={"role": "admin"}, headers=owner.headers)
    assert_envelope(demote, 409, "CONFLICT")
    leave = await client.delete(url, headers=owner.headers)
    assert_envelope(leave, 409, "CONFLICT")

    # With a second owner, the first may step down.
    second = await _member(client, tenant, owner, "o2@example.com", "owner")
    assert (
        await client.patch(url, json={"role": "admin"}, headers=owner.headers)
    ).status_code == 200
    # ...and now the second is the last one.
    last = await client.delete(
        f"/api/v1/tenants/{tenant['id']}/users/{second.user['id']}", headers=second.headers
    )
    assert_envelope(last, 409, "CONFLICT")


async def test_ownership_transfer(
    client: httpx.AsyncClient, tenant: dict[str, Any], owner: LoggedIn
) -> None:
    heir = await _member(client, tenant, owner, "heir@example.com", "member")
    response = await client.post(
        f"/api/v1/tenants/{tenant['id']}/transfer-ownership",
        json={"user_id": heir.user["id"]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == heir.user["id"]
    members = (
        await client.get(f"/api/v1/tenants/{tenant['id']}/users", headers=heir.headers)
    ).json()["results"]
    roles = {m["email"]: m["role"] for m in members}
    assert roles == {"owner@example.com": "admin", "heir@example.com": "owner"}
    owned = await client.get(f"/api/v1/users/{heir.user['id']}/owned-tenants", headers=heir.headers)
    assert [t["id"] for t in owned.json()["results"]] == [tenant["id"]]


async def test_invitation_accepted_through_the_mail(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    tenant: dict[str, Any],
    owner: LoggedIn,
) -> None:
    await runtime.run_pending_jobs()
    invited = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"email": "Newbie@Example.com", "role": "admin"},
        headers=owner.headers,
    )
    assert invited.status_code == 202, invited.text
    assert invited.json()["status"] == "invited"
    assert invited.json()["email"] == "newbie@example.com"
    pending = await client.get(f"/api/v1/tenants/{tenant['id']}/invitations", headers=owner.headers)
    assert [i["email"] for i in pending.json()["results"]] == ["newbie@example.com"]

    await runtime.run_pending_jobs()
    mail = await inbox.wait_for("newbie@example.com")
    assert "Team Ltd" in mail.subject
    token = mail.token()

    await register(client, "newbie@example.com")
    newbie = await login(client, "newbie@example.com")
    accepted = await client.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=newbie.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == "admin"
    assert accepted.json()["tenant"]["id"] == tenant["id"]
    me = await client.get("/api/v1/auth/me", headers=newbie.headers)
    assert me.json()["email_verified"] is True
    again = await client.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=newbie.headers
    )
    assert_envelope(again, 400, "INVALID_TOKEN")


async def test_invitation_for_another_address_or_expired_is_refused(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    tenant: dict[str, Any],
    owner: LoggedIn,
    clock: FrozenClock,
) -> None:
    await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"email": "late@example.com"},
        headers=owner.headers,
    )
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("late@example.com")).token()
    await register(client, "intruder@example.com")
    intruder = await login(client, "intruder@example.com")
    wrong = await client.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=intruder.headers
    )
    assert_envelope(wrong, 403, "FORBIDDEN")
    await register(client, "late@example.com")
    late = await login(client, "late@example.com", DEFAULT_PASSWORD)
    clock.advance(timedelta(days=8))
    late = await login(client, "late@example.com", DEFAULT_PASSWORD)
    expired = await client.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=late.headers
    )
    assert_envelope(expired, 400, "INVALID_TOKEN")


async def test_revoked_invitation_cannot_be_accepted(
    client: httpx.AsyncClient,
    runtime: Runtime,
    inbox: Inbox,
    tenant: dict[str, Any],
    owner: LoggedIn,
) -> None:
    invited = await client.post(
        f"/api/v1/tenants/{tenant['id']}/users",
        json={"email": "maybe@example.com"},
        headers=owner.headers,
    )
    revoke = await client.delete(
        f"/api/v1/tenants/{tenant['id']}/invitations/{invited.json()['id']}", headers=owner.headers
    )
    assert revoke.status_code == 204
    await runtime.run_pending_jobs()
    token = (await inbox.wait_for("maybe@example.com")).token()
    await register(client, "maybe@example.com")
    maybe = await login(client, "maybe@example.com")
    refused = await client.post(
        "/api/v1/invitations/accept", json={"token": token}, headers=maybe.headers
    )
    assert_envelope(refused, 400, "INVALID_TOKEN")
