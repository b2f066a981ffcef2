"""GET /api/v1/audit/logs: who sees what, the filters, and the list conventions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from saas_server.audit import service as audit
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.users import service as users
from tests.audit.support import entries, make_tenant
from tests.fixtures.auth import DEFAULT_PASSWORD, LoggedIn, login, platform_admin
from tests.fixtures.errors import assert_envelope

LOGS = "/api/v1/audit/logs"
MARCH_1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MARCH_2_LAST_MICROSECOND = datetime(2025, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)
MARCH_3 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)


@dataclass
class World:
    admin: LoggedIn
    owner: LoggedIn
    tenant_admin: LoggedIn
    member: LoggedIn
    stranger: LoggedIn
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID


async def _user(client: httpx.AsyncClient, runtime: Runtime, email: str) -> LoggedIn:
    async with runtime.db.transaction() as session:
        await users.create_user(
            session, email=email, password=DEFAULT_PASSWORD, full_name=email, email_verified=True
        )
    return await login(client, email)


async def _record_at(runtime: Runtime, clock: FrozenClock, moment: datetime, **fields: Any) -> None:
    clock.set(moment)
    async with runtime.db.transaction() as session:
        await audit.record(session, **fields)


@pytest.fixture
async def world(client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock) -> World:
    """Tenant A (owner, tenant admin, member) and tenant B (its own owner), three entries
    of tenant A in March 2025, one of tenant B, one of no tenant; then logins (today)."""
    now = clock.now()
    async with runtime.db.transaction() as session:
        b_owner = await users.create_user(
            session, email="owner-b@example.com", password=None, email_verified=True
        )
        owner_b = b_owner.id
    admin = await platform_admin(client, runtime)
    owner = await _user(client, runtime, "owner@example.com")
    tenant_admin = await _user(client, runtime, "tadmin@example.com")
    member = await _user(client, runtime, "member@example.com")
    stranger = await _user(client, runtime, "stranger@example.com")
    owner_id, tenant_admin_id, member_id = (
        uuid.UUID(who.user["id"]) for who in (owner, tenant_admin, member)
    )
    tenant_a = await make_tenant(
        runtime, owner_id, "alpha", admin=[tenant_admin_id], member=[member_id]
    )
    tenant_b = await make_tenant(runtime, owner_b, "bravo")

    a = {"resource_type": "tenant", "resource_id": tenant_a, "tenant_id": tenant_a}
    await _record_at(
        runtime, clock, MARCH_1, action="tenant.updated", actor_id=owner_id, **a,
        old_values={"name": "Alpha"}, new_values={"name": "Alpha Corp"},
    )  # fmt: skip
    await _record_at(
        runtime, clock, MARCH_2_LAST_MICROSECOND, action="member.role_changed",
        actor_id=owner_id, tenant_id=tenant_a, resource_type="membership",
        resource_id=member_id, old_values={"role": "member"}, new_values={"role": "admin"},
    )  # fmt: skip
    await _record_at(
        runtime, clock, MARCH_3, action="tenant.updated", actor_id=tenant_admin_id, **a,
    )  # fmt: skip
    await _record_at(
        runtime, clock, MARCH_3, action="tenant.updated", actor_id=owner_b,
        resource_type="tenant", resource_id=tenant_b, tenant_id=tenant_b,
    )  # fmt: skip
    await _record_at(runtime, clock, MARCH_3, action="system.noted", resource_type="platform")
    clock.set(now)
    return World(admin, owner, tenant_admin, member, stranger, tenant_a, tenant_b)


async def _list(client: httpx.AsyncClient, who: LoggedIn, **params: Any) -> dict[str, Any]:
    response = await client.get(LOGS, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _actions(page: dict[str, Any]) -> list[str]:
    return [r["action"] for r in page["results"]]


async def test_platform_admin_sees_every_entry_newest_first(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    page = await _list(client, world.admin, page_size=100)
    stored = await entries(runtime)
    assert page["count"] == len(stored) == len(page["results"])
    moments = [r["timestamp"] for r in page["results"]]
    assert moments == sorted(moments, reverse=True)
    assert all(m.endswith("Z") for m in moments)

    first_march = next(r for r in page["results"] if r["timestamp"].startswith("2025-03-01"))
    assert first_march["user"] == {"id": world.owner.user["id"], "email": "owner@example.com"}
    assert first_march["user_id"] == world.owner.user["id"]
    assert first_march["tenant_id"] == str(world.tenant_a)
    assert first_march["old_values"] == {"name": "Alpha"}
    assert first_march["new_values"] == {"name": "Alpha Corp"}
    assert first_march["timestamp"] == "2025-03-01T10:00:00Z"
    assert set(first_march) >= {"id", "resource_type", "resource_id", "ip_address",
                                "user_agent", "request_id", "hash", "prev_hash"}  # fmt: skip
    by_id = {str(e.id): e for e in stored}
    assert first_march["hash"] == by_id[first_march["id"]].hash
    no_actor = next(r for r in page["results"] if r["action"] == "system.noted")
    assert no_actor["user"] is None and no_actor["user_id"] is None


async def test_filters_narrow_the_list(client: httpx.AsyncClient, world: World) -> None:
    admin = world.admin
    updated = await _list(client, admin, action="tenant.updated")
    assert updated["count"] == 3
    memberships = await _list(client, admin, resource_type="membership")
    assert _actions(memberships) == ["member.role_changed"]
    by_tenant_admin = await _list(client, admin, user_id=world.tenant_admin.user["id"])
    assert {r["action"] for r in by_tenant_admin["results"]} == {"tenant.updated", "auth.login"}
    of_a = await _list(client, admin, tenant_id=str(world.tenant_a))
    assert of_a["count"] == 3
    assert {r["tenant_id"] for r in of_a["results"]} == {str(world.tenant_a)}
    combined = await _list(
        client, admin, tenant_id=str(world.tenant_a), action="tenant.updated",
        user_id=world.owner.user["id"],
    )  # fmt: skip
    assert combined["count"] == 1


async def test_date_filters_take_dates_and_datetimes(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.admin
    # A date as date_to includes its whole day, to the last microsecond.
    march_2 = await _list(client, admin, date_from="2025-03-02", date_to="2025-03-02")
    assert _actions(march_2) == ["member.role_changed"]
    until_march_2 = await _list(client, admin, date_to="2025-03-02")
    assert until_march_2["count"] == 2
    # Datetimes are inclusive bounds; one without an offset is UTC.
    exactly = await _list(
        client, admin, date_from="2025-03-01T10:00:00Z", date_to="2025-03-01T10:00:00+00:00"
    )
    assert _actions(exactly) == ["tenant.updated"]
    from_march_3 = await _list(client, admin, date_from="2025-03-03T00:00:00", date_to="2025-03-31")
    assert from_march_3["count"] == 3
    # Everything else was recorded today, long after March 2025.
    total = (await _list(client, admin))["count"]
    assert (await _list(client, admin, date_from="2025-04-01"))["count"] == total - 5

    bad = await client.get(LOGS, params={"date_from": "yesterday"}, headers=admin.headers)
    error = assert_envelope(bad, 422, "VALIDATION_ERROR")
    assert "date_from" in error["details"]


async def test_search_ordering_and_pages_follow_the_list_conventions(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.admin
    found = await _list(client, admin, search="MEMBERSHIP")
    assert _actions(found) == ["member.role_changed"]
    by_action = await _list(client, admin, ordering="action", page_size=100)
    assert _actions(by_action) == sorted(_actions(by_action))
    oldest_first = await _list(client, admin, ordering="created_at", page_size=1)
    assert oldest_first["results"][0]["timestamp"] == "2025-03-01T10:00:00Z"
    assert oldest_first["next"] is not None and "page=2" in oldest_first["next"]
    assert oldest_first["previous"] is None
    second = (await client.get(oldest_first["next"], headers=admin.headers)).json()
    assert second["results"][0]["action"] == "member.role_changed"
    assert second["previous"] is not None

    unknown = await client.get(LOGS, params={"ordering": "hash"}, headers=admin.headers)
    assert_envelope(unknown, 422, "VALIDATION_ERROR")


async def test_tenant_owner_and_admin_see_only_their_tenants_entries(
    client: httpx.AsyncClient, world: World
) -> None:
    for manager in (world.owner, world.tenant_admin):
        page = await _list(client, manager, page_size=100)
        assert page["count"] == 3
        assert {r["tenant_id"] for r in page["results"]} == {str(world.tenant_a)}
        narrowed = await _list(client, manager, tenant_id=str(world.tenant_a), action="x.none")
        assert narrowed["count"] == 0


async def test_a_tenant_the_caller_does_not_manage_is_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    for tenant_id in (world.tenant_b, uuid.uuid4()):
        response = await client.get(
            LOGS, params={"tenant_id": str(tenant_id)}, headers=world.owner.headers
        )
        assert_envelope(response, 404, "TENANT_NOT_FOUND")


async def test_users_who_manage_no_tenant_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    for who in (world.member, world.stranger):
        response = await client.get(LOGS, headers=who.headers)
        assert_envelope(response, 403, "FORBIDDEN")
    anonymous = await client.get(LOGS)
    assert anonymous.status_code == 401
