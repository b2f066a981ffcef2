"""Subscriptions over HTTP: both seed paths, who may do what, the tenant's tier and count,
one live subscription per tenant, cancelation, events and audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select

from saas_server.audit.models import AuditEntry
from saas_server.billing.models import Subscription
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from tests.fixtures.auth import LoggedIn
from tests.fixtures.billing import member_of, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox

SUBSCRIPTIONS = "/api/v1/subscriptions"


async def test_owner_subscribes_and_the_tenant_follows(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, clock: FrozenClock
) -> None:
    tenant = await tenant_of(client, owner)
    assert tenant["tier"] == "starter"
    created = await subscribe(
        client, owner, tenant["id"], plan="professional", path="/api/v1/billing/subscriptions"
    )
    assert created["plan"] == "professional"
    assert created["status"] == "trialing"  # the seeded plans have a 14-day trial
    assert created["is_active"] is True
    assert created["billing_cycle"] == "monthly"
    assert created["max_users"] == 10  # the plan's included seats
    assert created["user_count"] == 0 and created["subscribed_user_ids"] == []
    assert created["has_available_seats"] is True
    start = datetime.fromisoformat(created["start_date"])
    assert start == clock.now()
    assert datetime.fromisoformat(created["trial_end"]) == start + timedelta(days=14)
    assert created["renewal_date"] == created["current_period_end"] == created["trial_end"]
    assert created["start_date"].endswith("Z")

    detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)).json()
    assert detail["tier"] == "professional"
    assert detail["subscription_count"] == 1
    listed = (await client.get("/api/v1/tenants", headers=owner.headers)).json()["results"]
    assert next(t for t in listed if t["id"] == tenant["id"])["subscription_count"] == 1

    for path in (SUBSCRIPTIONS, "/api/v1/billing/subscriptions"):
        got = await client.get(f"{path}/{created['id']}", headers=owner.headers)
        assert got.status_code == 200 and got.json() == created

    async with runtime.db.sessionmaker() as session:
        events = (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.type.like("subscription.%"))
            )
        ).scalars()
        [event] = list(events)
        assert event.type == "subscription.created"
        assert str(event.tenant_id) == tenant["id"]
        assert event.data["plan"] == "professional"
        actions = (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.resource_id == created["id"])
            )
        ).scalars()
        assert list(actions) == ["subscription.created"]


async def test_a_second_live_subscription_is_a_conflict(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    tenant = await tenant_of(client, owner)
    first = await subscribe(client, owner, tenant["id"])
    again = await client.post(
        SUBSCRIPTIONS, json={"tenant_id": tenant["id"], "plan": "enterprise"}, headers=owner.headers
    )
    assert_envelope(again, 409, "CONFLICT")
    # Once canceled, the tenant may subscribe again.
    canceled = await client.post(f"{SUBSCRIPTIONS}/{first['id']}/cancel", headers=owner.headers)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["end_date"] is not None
    await subscribe(client, owner, tenant["id"], plan="enterprise")


async def test_bad_subscriptions_are_refused(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    tenant = await tenant_of(client, owner)

    async def post(**body: object) -> httpx.Response:
        return await client.post(
            SUBSCRIPTIONS, json={"tenant_id": tenant["id"], **body}, headers=owner.headers
        )

    unknown = await post(plan="platinum")
    assert "plan" in assert_envelope(unknown, 422, "VALIDATION_ERROR")["details"]
    too_many = await post(plan="starter", max_users=6)  # the starter grants 5 users
    assert "max_users" in assert_envelope(too_many, 422, "VALIDATION_ERROR")["details"]
    assert_envelope(await post(plan="starter", max_users=2.5), 422, "VALIDATION_ERROR")
    assert_envelope(await post(plan="starter", billing_cycle="weekly"), 422, "VALIDATION_ERROR")

    # Someone else's tenant (or none) answers 404; a member may not subscribe.
    stranger_tenant = await tenant_of(client, admin)
    foreign = await post(plan="starter", tenant_id=stranger_tenant["id"])
    assert_envelope(foreign, 404, "TENANT_NOT_FOUND")
    member = await member_of(client, runtime, inbox, owner, tenant)
    by_member = await client.post(
        SUBSCRIPTIONS, json={"tenant_id": tenant["id"], "plan": "starter"}, headers=member.headers
    )
    assert_envelope(by_member, 403, "FORBIDDEN")


async def test_members_read_owners_change_others_get_404(
    client: httpx.AsyncClient, owner: LoggedIn, admin: LoggedIn, runtime: Runtime, inbox: Inbox
) -> None:
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"])
    url = f"{SUBSCRIPTIONS}/{subscription['id']}"
    member = await member_of(client, runtime, inbox, owner, tenant)
    assert (await client.get(url, headers=member.headers)).status_code == 200
    refused = await client.patch(url, json={"max_users": 3}, headers=member.headers)
    assert_envelope(refused, 403, "FORBIDDEN")
    assert_envelope(await client.post(f"{url}/cancel", headers=member.headers), 403, "FORBIDDEN")

    outsider_tenant = await tenant_of(client, member)  # the member owns a tenant of their own
    outsider_sub = await subscribe(client, member, outsider_tenant["id"])
    hidden = await client.get(f"{SUBSCRIPTIONS}/{outsider_sub['id']}", headers=owner.headers)
    assert_envelope(hidden, 404, "SUBSCRIPTION_NOT_FOUND")
    assert_envelope(
        await client.get(f"{SUBSCRIPTIONS}/not-a-uuid", headers=owner.headers),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )

    # Lists: the caller's tenants only; admins see all.
    mine = (await client.get(SUBSCRIPTIONS, headers=owner.headers)).json()
    assert [s["id"] for s in mine["results"]] == [subscription["id"]]
    theirs = (await client.get(SUBSCRIPTIONS, headers=member.headers)).json()
    assert {s["id"] for s in theirs["results"]} == {subscription["id"], outsider_sub["id"]}
    everything = await client.get(
        SUBSCRIPTIONS, params={"tenant_id": outsider_tenant["id"]}, headers=admin.headers
    )
    assert [s["id"] for s in everything.json()["results"]] == [outsider_sub["id"]]
    all_of_them = await client.get("/api/v1/admin/subscriptions", headers=admin.headers)
    assert {s["id"] for s in all_of_them.json()["results"]} >= {
        subscription["id"],
        outsider_sub["id"],
    }
    assert_envelope(
        await client.get("/api/v1/admin/subscriptions", headers=owner.headers), 403, "FORBIDDEN"
    )

    # The tenant's and the user's lists.
    by_tenant = await client.get(
        f"/api/v1/tenants/{tenant['id']}/subscriptions", headers=member.headers
    )
    assert [s["id"] for s in by_tenant.json()["results"]] == [subscription["id"]]
    assert_envelope(
        await client.get(
            f"/api/v1/tenants/{outsider_tenant['id']}/subscriptions", headers=owner.headers
        ),
        404,
        "TENANT_NOT_FOUND",
    )
    by_user = await client.get(
        f"/api/v1/users/{member.user['id']}/subscriptions", headers=owner.headers
    )
    # The owner sees the member's subscriptions only where they share the tenant.
    assert [s["id"] for s in by_user.json()["results"]] == [subscription["id"]]
    by_self = await client.get(
        f"/api/v1/users/{member.user['id']}/subscriptions", headers=member.headers
    )
    assert by_self.json()["count"] == 2


async def test_changes_filters_and_cancel_at_period_end(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"], billing_cycle="annually")
    url = f"{SUBSCRIPTIONS}/{subscription['id']}"

    upgraded = await client.patch(
        url, json={"plan": "enterprise", "max_users": 60}, headers=owner.headers
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["plan"] == "enterprise" and upgraded.json()["max_users"] == 60
    detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)).json()
    assert detail["tier"] == "enterprise"

    replaced = await client.put(
        url,
        json={"plan": "enterprise", "billing_cycle": "monthly", "max_users": 55},
        headers=owner.headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["billing_cycle"] == "monthly"
    missing_field = await client.put(url, json={"plan": "enterprise"}, headers=owner.headers)
    assert_envelope(missing_field, 422, "VALIDATION_ERROR")

    later = await client.post(f"{url}/cancel", json={"at_period_end": True}, headers=owner.headers)
    body = later.json()
    assert body["cancel_at_period_end"] is True and body["status"] == "trialing"
    assert body["renewal_date"] is None

    trialing = await client.get(
        SUBSCRIPTIONS, params={"status": "trialing", "is_active": "true"}, headers=owner.headers
    )
    assert [s["id"] for s in trialing.json()["results"]] == [subscription["id"]]
    canceled = await client.get(SUBSCRIPTIONS, params={"status": "canceled"}, headers=owner.headers)
    assert canceled.json()["count"] == 0
    assert_envelope(
        await client.get(SUBSCRIPTIONS, params={"status": "gone"}, headers=owner.headers),
        422,
        "VALIDATION_ERROR",
    )

    gone = await client.delete(url, headers=owner.headers)
    assert gone.json()["status"] == "canceled" and gone.json()["is_active"] is False
    detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=owner.headers)).json()
    assert detail["subscription_count"] == 0
    assert_envelope(
        await client.patch(url, json={"max_users": 2}, headers=owner.headers), 409, "CONFLICT"
    )

    async with runtime.db.sessionmaker() as session:
        types = (
            await session.execute(
                select(OutboxEvent.type)
                .where(OutboxEvent.type.like("subscription.%"))
                .order_by(OutboxEvent.seq)
            )
        ).scalars()
        assert list(types) == [
            "subscription.created",
            "subscription.updated",
            "subscription.updated",
            "subscription.updated",
            "subscription.canceled",
        ]


async def test_seed_put_with_is_active_false_cancels(
    client: httpx.AsyncClient, owner: LoggedIn
) -> None:
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"])
    response = await client.put(
        f"{SUBSCRIPTIONS}/{subscription['id']}",
        json={"plan": "starter", "billing_cycle": "monthly", "max_users": 5, "is_active": False},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"


async def test_idempotency_key_answers_the_first_result_again(
    client: httpx.AsyncClient, owner: LoggedIn, runtime: Runtime
) -> None:
    tenant = await tenant_of(client, owner)
    body = {"tenant_id": tenant["id"], "plan": "starter"}
    headers = {**owner.headers, "Idempotency-Key": "order-42"}
    first = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
    again = await client.post("/api/v1/billing/subscriptions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await client.post(SUBSCRIPTIONS, json={**body, "plan": "enterprise"}, headers=headers)
    assert_envelope(other, 409, "CONFLICT")
    without = await client.post(SUBSCRIPTIONS, json=body, headers=owner.headers)
    assert_envelope(without, 409, "CONFLICT")  # the one live subscription exists
    async with runtime.db.sessionmaker() as session:
        count = (
            await session.execute(
                select(func.count())
                .select_from(Subscription)
                .where(Subscription.tenant_id == tenant["id"])
            )
        ).scalar_one()
    assert count == 1
