"""Personal API keys: created, shown once, stored hashed, listed, revoked, expired; used as
a bearer token or in X-API-Key; scopes and tenant confinement; use audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from saas_server.audit.models import AuditEntry
from saas_server.auth.api_keys import hash_api_key
from saas_server.auth.models import ApiKey
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, verified_user
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


async def new_key(
    client: httpx.AsyncClient, who: LoggedIn, scopes: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": scopes, **extra}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def audit_actions(runtime: Runtime, resource_id: str) -> list[str]:
    async with runtime.db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id == resource_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def test_a_key_is_shown_once_stored_hashed_and_listed_without_it(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    created = await new_key(client, owner, ["tenants:read"])
    key = created["key"]
    assert key.startswith("saas_live_") and len(key) >= len("saas_live_") + 40
    assert key.startswith(created["prefix"]) and len(created["prefix"]) < 24

    async with runtime.db.transaction() as session:
        row = await session.get(ApiKey, created["id"])
        assert row is not None
        assert row.key_hash == hash_api_key(runtime.secret_key, key)
        assert key not in (row.key_hash, row.prefix)

    listed = await client.get("/api/v1/api-keys", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["results"]
    assert item["prefix"] == created["prefix"]
    assert item["scopes"] == ["tenants:read"]
    assert "key" not in item and key not in listed.text
    assert await audit_actions(runtime, created["id"]) == ["api_key.created"]


async def test_bad_input_is_refused(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    unknown = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["tenants:fly"]}, headers=owner.headers
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["code"] == "VALIDATION_ERROR"
    nowhere = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["tenants:read"], "tenant_id": owner.user["id"]},
        headers=owner.headers,
    )
    assert nowhere.status_code == 404, nowhere.text
    past = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["tenants:read"], "expires_at": "2001-01-01T00:00:00Z"},
        headers=owner.headers,
    )
    assert past.status_code == 422, past.text


async def test_a_key_acts_as_its_user_in_either_header_and_jwts_still_work(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    key = (await new_key(client, owner, ["users:read"]))["key"]
    for headers in (bearer(key), {"X-API-Key": key}):
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["id"] == owner.user["id"]
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
    wrong = await client.get("/api/v1/auth/me", headers=bearer(key + "x"))
    assert wrong.status_code == 401, wrong.text


async def test_a_revoked_key_is_refused_and_no_longer_listed(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    created = await new_key(client, owner, ["users:read"])
    assert (await client.get("/api/v1/auth/me", headers=bearer(created["key"]))).status_code == 200
    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=owner.headers)
    assert revoked.status_code == 204, revoked.text
    after = await client.get("/api/v1/auth/me", headers=bearer(created["key"]))
    assert after.status_code == 401, after.text
    again = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=owner.headers)
    assert again.status_code == 404, again.text
    listed = await client.get("/api/v1/api-keys", headers=owner.headers)
    assert listed.json()["results"] == []
    assert "api_key.revoked" in await audit_actions(runtime, created["id"])


async def test_another_users_key_cannot_be_revoked(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    created = await new_key(client, owner, ["users:read"])
    other = await verified_user(client, runtime, inbox, "other@example.com")
    response = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=other.headers)
    assert response.status_code == 404, response.text
    assert (await client.get("/api/v1/auth/me", headers=bearer(created["key"]))).status_code == 200


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, owner: LoggedIn, clock: FrozenClock
) -> None:
    expires = clock.now() + timedelta(hours=1)
    key = (await new_key(client, owner, ["users:read"], expires_at=expires.isoformat()))["key"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(key))).status_code == 200
    clock.advance(timedelta(hours=1))
    expired = await client.get("/api/v1/auth/me", headers=bearer(key))
    assert expired.status_code == 401, expired.text
    assert "expired" in expired.json()["error"]["message"]


async def test_scopes_are_enforced_and_a_key_cannot_manage_keys(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    key = (await new_key(client, owner, ["tenants:read"]))["key"]
    assert (await client.get("/api/v1/tenants", headers=bearer(key))).status_code == 200
    create = await client.post(
        "/api/v1/tenants", json={"name": "Acme", "subdomain": "acme"}, headers=bearer(key)
    )
    assert create.status_code == 403, create.text
    assert create.json()["error"]["details"] == {"required_scope": "tenants:write"}
    me = await client.get("/api/v1/auth/me", headers=bearer(key))
    assert me.status_code == 403, me.text
    everything = (await new_key(client, owner, ["tenants:read", "users:read", "users:write"]))[
        "key"
    ]
    for method, path in (("GET", "/api/v1/api-keys"), ("POST", "/api/v1/api-keys")):
        minted = await client.request(
            method, path, json={"name": "x", "scopes": ["users:read"]}, headers=bearer(everything)
        )
        assert minted.status_code == 403, minted.text
    logout = await client.post("/api/v1/auth/logout", headers=bearer(everything))
    assert logout.status_code == 403, logout.text


async def test_a_key_never_goes_beyond_its_user(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    # An admin scope on a key of a user who is no platform admin reaches nothing more.
    key = (await new_key(client, owner, ["admin:read", "admin:write"]))["key"]
    hosts = await client.get("/api/v1/admin/odoo-hosts", headers=bearer(key))
    assert hosts.status_code == 403, hosts.text
    assert "administrators" in hosts.json()["error"]["message"]


async def test_a_key_confined_to_one_tenant_sees_only_that_tenant(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    mine = await create_tenant(client, owner, "mine")
    other = await create_tenant(client, owner, "other")
    created = await new_key(
        client, owner, ["tenants:read", "tenants:write", "backups:read"], tenant_id=mine["id"]
    )
    key = bearer(created["key"])
    assert created["tenant_id"] == mine["id"]
    assert (await client.get(f"/api/v1/tenants/{mine['id']}", headers=key)).status_code == 200
    elsewhere = await client.get(f"/api/v1/tenants/{other['id']}", headers=key)
    assert elsewhere.status_code == 404, elsewhere.text
    assert elsewhere.json()["error"]["code"] == "TENANT_NOT_FOUND"
    backups = await client.get(f"/api/v1/tenants/{other['id']}/backups", headers=key)
    assert backups.status_code == 404, backups.text
    listed = await client.get("/api/v1/tenants", headers=key)
    assert [t["id"] for t in listed.json()["results"]] == [mine["id"]]
    beyond = await client.post(
        "/api/v1/tenants", json={"name": "More", "subdomain": "more"}, headers=key
    )
    assert beyond.status_code == 403, beyond.text
    # The same user's session still sees both.
    both = await client.get("/api/v1/tenants", headers=owner.headers)
    assert {t["id"] for t in both.json()["results"]} == {mine["id"], other["id"]}


async def test_first_use_from_a_new_address_is_audited_once(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    created = await new_key(client, owner, ["users:read"])
    for _ in range(3):
        assert (
            await client.get("/api/v1/auth/me", headers=bearer(created["key"]))
        ).status_code == 200
    assert await audit_actions(runtime, created["id"]) == [
        "api_key.created",
        "api_key.used_from_new_ip",
    ]
    listed = (await client.get("/api/v1/api-keys", headers=owner.headers)).json()["results"]
    first_used = listed[0]["last_used_at"]
    assert first_used is not None
    # Used again within the minute: no write; after it, last_used_at moves.
    clock.advance(timedelta(seconds=30))
    await client.get("/api/v1/auth/me", headers=bearer(created["key"]))
    listed = (await client.get("/api/v1/api-keys", headers=owner.headers)).json()["results"]
    assert listed[0]["last_used_at"] == first_used
    clock.advance(timedelta(seconds=31))
    await client.get("/api/v1/auth/me", headers=bearer(created["key"]))
    listed = (await client.get("/api/v1/api-keys", headers=owner.headers)).json()["results"]
    assert listed[0]["last_used_at"] != first_used


async def test_a_confined_key_reaches_only_its_tenants_instances(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    tenants = [await create_tenant(client, owner, name) for name in ("mine", "other")]
    instances = []
    for tenant in tenants:
        page = await client.get(f"/api/v1/tenants/{tenant['id']}/instances", headers=owner.headers)
        assert page.status_code == 200, page.text
        (instance,) = page.json()["results"]
        instances.append(instance["id"])
    mine, other = instances
    created = await new_key(client, owner, ["instances:read"], tenant_id=tenants[0]["id"])
    key = bearer(created["key"])
    assert (await client.get(f"/api/v1/instances/{mine}", headers=key)).status_code == 200
    elsewhere = await client.get(f"/api/v1/instances/{other}", headers=key)
    assert elsewhere.status_code == 404, elsewhere.text
    assert elsewhere.json()["error"]["code"] == "INSTANCE_NOT_FOUND"
    history = await client.get(f"/api/v1/instances/{other}/transitions", headers=key)
    assert history.status_code == 404, history.text
    listed = await client.get("/api/v1/instances", headers=key)
    assert [i["id"] for i in listed.json()["results"]] == [mine]
    unconfined = bearer((await new_key(client, owner, ["instances:read"]))["key"])
    listed = await client.get("/api/v1/instances", headers=unconfined)
    assert {i["id"] for i in listed.json()["results"]} == {mine, other}


async def test_a_suspended_users_keys_are_refused(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn
) -> None:
    key = bearer((await new_key(client, owner, ["users:read"]))["key"])
    assert (await client.get("/api/v1/auth/me", headers=key)).status_code == 200
    suspended = await client.patch(
        f"/api/v1/users/{owner.user['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert suspended.status_code == 200, suspended.text
    refused = await client.get("/api/v1/auth/me", headers=key)
    assert refused.status_code == 401, refused.text
    assert "suspended" in refused.json()["error"]["message"]


async def test_an_expiry_without_a_time_zone_is_read_as_utc(
    client: httpx.AsyncClient, owner: LoggedIn, clock: FrozenClock
) -> None:
    later = (clock.now() + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    created = await new_key(client, owner, ["users:read"], expires_at=later.isoformat())
    assert created["expires_at"].startswith(later.isoformat())
    assert created["expires_at"].endswith(("Z", "+00:00"))
    clock.advance(timedelta(days=2))
    expired = await client.get("/api/v1/auth/me", headers=bearer(created["key"]))
    assert expired.status_code == 401, expired.text
