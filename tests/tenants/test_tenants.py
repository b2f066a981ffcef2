from __future__ import annotations

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login, platform_admin, register, verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant


async def test_create_and_read_a_tenant(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    tenant = await create_tenant(
        client,
        owner,
        "acme",
        tier="professional",
        settings={"timezone": "Europe/Brussels", "language": "fr_BE"},
        billing_address="1 Rue de la Loi, Brussels",
        metadata={"industry": "manufacturing"},
    )
    assert tenant["subdomain"] == "acme"
    assert tenant["tier"] == "professional"
    # Accepted: the Odoo database is provisioned by a job.
    assert tenant["status"] == "provisioning"
    assert tenant["instance"]["status"] == "pending"
    assert tenant["estimated_completion"]
    assert tenant["owner_id"] == owner.user["id"]
    assert tenant["contact_email"] == "owner@example.com"
    assert tenant["settings"] == {"timezone": "Europe/Brussels", "language": "fr_BE"}
    assert tenant["member_count"] == 1
    assert tenant["subscription_count"] == 0

    fetched = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.json()["metadata"] == {"industry": "manufacturing"}

    members = await client.get(f"/api/v1/tenants/{tenant['id']}/users", headers=owner.headers)
    assert [(m["email"], m["role"]) for m in members.json()["results"]] == [
        ("owner@example.com", "owner")
    ]


async def test_default_tier_is_starter(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    tenant = await create_tenant(client, owner, "plain")
    assert tenant["tier"] == "starter"


@pytest.mark.parametrize(
    ("subdomain", "reason_fragment"),
    [
        ("ab", "between 3 and 63"),
        ("a" * 64, "between 3 and 63"),
        ("Acme", "lowercase"),
        ("acme_corp", "lowercase letters, digits and hyphens"),
        ("acme.corp", "lowercase letters, digits and hyphens"),
        ("-acme", "hyphen"),
        ("acme-", "hyphen"),
        ("www", "reserved"),
        ("api", "reserved"),
        ("admin", "reserved"),
        ("mail", "reserved"),
        ("xn--bcher-kva", "Punycode"),
        ("émile", "lowercase letters"),
    ],
)
async def test_subdomain_rules(
    client: httpx.AsyncClient, owner: LoggedIn, subdomain: str, reason_fragment: str
) -> None:
    response = await client.post(
        "/api/v1/tenants", json={"name": "X", "subdomain": subdomain}, headers=owner.headers
    )
    error = assert_envelope(response, 400, "INVALID_SUBDOMAIN")
    assert any(reason_fragment in m for m in error["details"]["subdomain"]), error


async def test_subdomain_of_63_characters_is_fine(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    await create_tenant(client, owner, "a" + "-b" * 30 + "cd")


async def test_subdomain_taken_case_insensitively_and_after_deletion(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, "taken")
    other = await verified_user(client, runtime, inbox, "other@example.com")
    again = await client.post(
        "/api/v1/tenants", json={"name": "Y", "subdomain": "taken"}, headers=other.headers
    )
    error = assert_envelope(again, 400, "INVALID_SUBDOMAIN")
    assert error["details"]["reason"] == "taken"

    from sqlalchemy import update

    from saas_server.tenants.models import Tenant

    # Stored in another case (as an older row or an operator might have), still a clash.
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.subdomain == "taken").values(subdomain="TAKEN")
        )
    clash = await client.post(
        "/api/v1/tenants", json={"name": "Y", "subdomain": "taken"}, headers=other.headers
    )
    assert clash.status_code == 400

    deleted = await client.delete(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert deleted.status_code == 202
    still = await client.post(
        "/api/v1/tenants", json={"name": "Y", "subdomain": "taken"}, headers=other.headers
    )
    assert still.status_code == 400


async def test_tenant_limit(client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn) -> None:
    for name in ("one", "two", "three"):
        await create_tenant(client, owner, f"limit-{name}")
    fourth = await client.post(
        "/api/v1/tenants", json={"name": "Four", "subdomain": "limit-four"}, headers=owner.headers
    )
    error = assert_envelope(fourth, 400, "TENANT_LIMIT_EXCEEDED")
    assert error["details"]["limit"] == 3

    # Deleting one frees a slot.
    tenants = (await client.get("/api/v1/tenants", headers=owner.headers)).json()["results"]
    await client.delete(f"/api/v1/tenants/{tenants[0]['id']}", headers=owner.headers)
    await create_tenant(client, owner, "limit-four")

    # Platform admins are not limited.
    admin = await platform_admin(client, runtime)
    for i in range(4):
        await create_tenant(client, admin, f"admin-owned-{i}")


async def test_per_user_limit_set_by_an_admin(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    admin = await platform_admin(client, runtime)
    raised = await client.patch(
        f"/api/v1/users/{owner.user['id']}", json={"tenant_limit": 1}, headers=admin.headers
    )
    assert raised.status_code == 200, raised.text
    await create_tenant(client, owner, "only-one")
    second = await client.post(
        "/api/v1/tenants", json={"name": "Two", "subdomain": "second-one"}, headers=owner.headers
    )
    assert_envelope(second, 400, "TENANT_LIMIT_EXCEEDED")


async def test_unverified_users_cannot_create_tenants(client: httpx.AsyncClient) -> None:
    await register(client, "fresh@example.com")
    fresh = await login(client, "fresh@example.com")
    response = await client.post(
        "/api/v1/tenants", json={"name": "X", "subdomain": "fresh"}, headers=fresh.headers
    )
    error = assert_envelope(response, 403, "FORBIDDEN")
    assert error["details"]["reason"] == "email_not_verified"


async def test_bad_settings_and_metadata(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    bad_zone = await client.post(
        "/api/v1/tenants",
        json={"name": "X", "subdomain": "zone", "settings": {"timezone": "Mars/Olympus"}},
        headers=owner.headers,
    )
    assert "settings.timezone" in assert_envelope(bad_zone, 422, "VALIDATION_ERROR")["details"]
    bad_lang = await client.post(
        "/api/v1/tenants",
        json={"name": "X", "subdomain": "lang", "settings": {"language": "english"}},
        headers=owner.headers,
    )
    assert "settings.language" in assert_envelope(bad_lang, 422, "VALIDATION_ERROR")["details"]
    big = await client.post(
        "/api/v1/tenants",
        json={"name": "X", "subdomain": "big", "metadata": {"blob": "x" * 17000}},
        headers=owner.headers,
    )
    assert "metadata" in assert_envelope(big, 422, "VALIDATION_ERROR")["details"]
    bad_tier = await client.post(
        "/api/v1/tenants",
        json={"name": "X", "subdomain": "tier", "tier": "gold"},
        headers=owner.headers,
    )
    assert "tier" in assert_envelope(bad_tier, 422, "VALIDATION_ERROR")["details"]


async def test_list_filters_search_ordering(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    await create_tenant(client, owner, "alpha", tier="enterprise")
    await create_tenant(client, owner, "bravo")
    await create_tenant(client, owner, "charlie", tier="professional")

    def names(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [t["subdomain"] for t in response.json()["results"]]

    h = owner.headers
    assert names(await client.get("/api/v1/tenants?ordering=subdomain", headers=h)) == [
        "alpha",
        "bravo",
        "charlie",
    ]
    assert names(await client.get("/api/v1/tenants?ordering=-subdomain", headers=h))[0] == "charlie"
    assert names(await client.get("/api/v1/tenants?tier=enterprise", headers=h)) == ["alpha"]
    assert names(await client.get("/api/v1/tenants?search=RAV", headers=h)) == ["bravo"]
    assert names(
        await client.get(f"/api/v1/tenants?owner_id={owner.user['id']}&is_active=true", headers=h)
    ) == ["charlie", "bravo", "alpha"]

    page = await client.get("/api/v1/tenants?page_size=2&ordering=subdomain", headers=h)
    body = page.json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["previous"] is None
    assert body["next"].startswith("http://testserver/api/v1/tenants?")
    second = await client.get(body["next"], headers=h)
    assert names(second) == ["charlie"]
    assert second.json()["next"] is None and second.json()["previous"]

    bad = await client.get("/api/v1/tenants?ordering=password", headers=h)
    assert "ordering" in assert_envelope(bad, 422, "VALIDATION_ERROR")["details"]


async def test_users_see_only_their_tenants_and_admins_see_all(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn
) -> None:
    await create_tenant(client, owner, "mine")
    other = await verified_user(client, runtime, inbox, "someone@example.com")
    await create_tenant(client, other, "theirs")
    mine = (await client.get("/api/v1/tenants", headers=owner.headers)).json()
    assert [t["subdomain"] for t in mine["results"]] == ["mine"]
    admin = await platform_admin(client, runtime)
    every = (await client.get("/api/v1/tenants", headers=admin.headers)).json()
    assert {t["subdomain"] for t in every["results"]} == {"mine", "theirs"}


async def test_update_put_and_patch(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, "upd", settings={"timezone": "UTC"})
    url = f"/api/v1/tenants/{tenant['id']}"
    patched = await client.patch(
        url, json={"name": "Renamed", "settings": {"language": "nl_BE"}}, headers=owner.headers
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["settings"] == {"timezone": "UTC", "language": "nl_BE"}
    put = await client.put(
        url, json={"contact_email": "billing@example.com"}, headers=owner.headers
    )
    assert put.json()["contact_email"] == "billing@example.com"
    immutable = await client.patch(url, json={"subdomain": "other"}, headers=owner.headers)
    assert_envelope(immutable, 400, "INVALID_SUBDOMAIN")
    suspend = await client.patch(url, json={"is_active": False}, headers=owner.headers)
    assert_envelope(suspend, 403, "FORBIDDEN")


async def test_soft_delete(client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn) -> None:
    tenant = await create_tenant(client, owner, "gone")
    response = await client.delete(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert response.status_code == 202
    assert response.json()["status"] == "deleting"
    await runtime.run_pending_jobs()
    # The owner follows the deletion during the grace period (issue 13 item 3).
    followed = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    assert followed.status_code == 200
    assert followed.json()["status"] == "deleted" and followed.json()["grace_ends_at"]
    assert (await client.get("/api/v1/tenants", headers=owner.headers)).json()["count"] == 0
    listed = await client.get("/api/v1/tenants?status=deleted", headers=owner.headers)
    assert [t["id"] for t in listed.json()["results"]] == [tenant["id"]]
    admin = await platform_admin(client, runtime)
    seen = await client.get(f"/api/v1/tenants/{tenant['id']}", headers=admin.headers)
    assert seen.json()["status"] == "deleted" and seen.json()["deleted_at"]


async def test_non_uuid_id_is_404(client: httpx.AsyncClient, owner: LoggedIn) -> None:
    assert_envelope(
        await client.get("/api/v1/tenants/123", headers=owner.headers), 404, "TENANT_NOT_FOUND"
    )


async def test_subdomain_is_free_again_after_the_grace_period(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn, clock: object
) -> None:
    from datetime import timedelta

    from saas_server.core.clock import FrozenClock
    from saas_server.tenants.service import purge_deleted_tenants

    assert isinstance(clock, FrozenClock)
    tenant = await create_tenant(client, owner, "recycled")
    await client.delete(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)
    await runtime.run_pending_jobs()
    other = await verified_user(client, runtime, inbox, "next@example.com")
    clock.advance(timedelta(days=29))
    other = await login(client, "next@example.com")
    async with runtime.db.transaction() as session:
        assert await purge_deleted_tenants(session, runtime.settings.subdomain_grace_days) == 0
    taken = await client.post(
        "/api/v1/tenants", json={"name": "N", "subdomain": "recycled"}, headers=other.headers
    )
    assert taken.status_code == 400
    clock.advance(timedelta(days=2))
    other = await login(client, "next@example.com")
    async with runtime.db.transaction() as session:
        assert await purge_deleted_tenants(session, runtime.settings.subdomain_grace_days) == 1
    await create_tenant(client, other, "recycled")
