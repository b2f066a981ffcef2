"""Seed 003's ``PUT /subscriptions/{id}`` with ``end_date``: a scheduled end (Stripe's
``cancel_at``), checked, and carried out by the renewals: a last period cut at the end and
priced for its part, then canceled there, with nothing invoiced after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from saas_server.billing.renewals import run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.billing import make_plan, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope


async def test_put_with_end_date_schedules_the_end(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    plan = await make_plan(client, admin, monthly_amount_cents=3100)
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"], plan=plan["code"], max_users=2)
    url = f"/api/v1/subscriptions/{subscription['id']}"

    def seed_body(end_date: str | None) -> dict[str, Any]:
        return {
            "plan": plan["code"],
            "is_active": True,
            "end_date": end_date,
            "billing_cycle": "monthly",
            "max_users": 2,
        }

    for bad in ("2026-12-31T09:00:00Z", "2027-01-01T09:00:00Z"):
        refused = await client.put(url, json=seed_body(bad), headers=owner.headers)
        assert "end_date" in assert_envelope(refused, 422, "VALIDATION_ERROR")["details"]

    # Mid-February: January is renewed whole on February 1; February stops on the 15th.
    put = await client.put(url, json=seed_body("2027-02-15T09:00:00Z"), headers=owner.headers)
    assert put.status_code == 200, put.text
    assert put.json()["end_date"] == "2027-02-15T09:00:00Z"
    assert put.json()["is_active"] is True and put.json()["status"] == "active"

    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    report = await run_renewals(runtime)
    assert (report.renewed, report.canceled) == (1, 0)
    owner = await login(client, owner.email)
    got = (await client.get(url, headers=owner.headers)).json()
    assert got["current_period_end"] == "2027-02-15T09:00:00Z"
    listed = await client.get(
        "/api/v1/billing/invoices", params={"ordering": "number"}, headers=owner.headers
    )
    last = listed.json()["results"][-1]
    # 3100 for the 14 days of a 28-day February: exactly half.
    assert last["total_cents"] == 1550

    clock.set(datetime(2027, 2, 15, 9, 0, tzinfo=UTC))
    assert (await run_renewals(runtime)).canceled == 1
    owner = await login(client, owner.email)
    got = (await client.get(url, headers=owner.headers)).json()
    assert (got["status"], got["is_active"], got["end_date"]) == (
        "canceled",
        False,
        "2027-02-15T09:00:00Z",
    )
    clock.set(datetime(2027, 5, 1, 9, 0, tzinfo=UTC))
    await run_renewals(runtime)
    owner = await login(client, owner.email)
    again = await client.get("/api/v1/billing/invoices", headers=owner.headers)
    assert again.json()["count"] == listed.json()["count"]


async def test_an_end_inside_the_period_cancels_then_and_patch_null_unschedules(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    plan = await make_plan(client, admin)
    first = await subscribe(
        client, owner, (await tenant_of(client, owner))["id"], plan=plan["code"]
    )
    second = await subscribe(
        client, owner, (await tenant_of(client, owner))["id"], plan=plan["code"]
    )
    for sub in (first, second):
        patched = await client.patch(
            f"/api/v1/subscriptions/{sub['id']}",
            json={"end_date": "2027-01-20T00:00:00Z"},
            headers=owner.headers,
        )
        assert patched.status_code == 200, patched.text
    unscheduled = await client.patch(
        f"/api/v1/subscriptions/{second['id']}", json={"end_date": None}, headers=owner.headers
    )
    assert unscheduled.json()["end_date"] is None

    clock.set(datetime(2027, 1, 20, 0, 0, tzinfo=UTC))
    assert (await run_renewals(runtime)).canceled == 1
    owner = await login(client, owner.email)
    ended = (await client.get(f"/api/v1/subscriptions/{first['id']}", headers=owner.headers)).json()
    kept = (await client.get(f"/api/v1/subscriptions/{second['id']}", headers=owner.headers)).json()
    assert (ended["status"], ended["end_date"]) == ("canceled", "2027-01-20T00:00:00Z")
    assert (kept["status"], kept["end_date"]) == ("active", None)
