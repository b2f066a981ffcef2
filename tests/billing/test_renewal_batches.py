"""Renewals in batches: one that fails is undone alone (its invoice number given back, so
numbering stays gapless), reported, and renewed by the next run; the others are kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from saas_server.billing import renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.billing import make_plan, subscribe, tenant_of


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"default_tenant_limit": 10}


async def test_a_failing_renewal_is_undone_alone_and_renewed_next_run(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    plan = await make_plan(client, admin)
    tenants = [(await tenant_of(client, owner))["id"] for _ in range(5)]
    for tenant_id in tenants:
        await subscribe(client, owner, tenant_id, plan=plan["code"], max_users=2)
    broken = tenants[2]
    real_attempt = renewals.attempt_charge

    async def attempt_failing_for_one(session: Any, runtime: Any, **kw: Any) -> Any:
        attempt = await real_attempt(session, runtime, **kw)
        if str(kw["tenant"].id) == broken:  # charged (a transfer awaited), then it broke
            raise RuntimeError("the renewal broke after its charge")
        return attempt

    monkeypatch.setattr(renewals, "attempt_charge", attempt_failing_for_one)
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    report = await renewals.run_renewals(runtime, batch_size=2)  # three batches
    assert report.renewed == 4
    [failure] = report.failures
    assert "the renewal broke" in failure

    async def numbers() -> dict[str, list[str]]:
        listed = await client.get(
            "/api/v1/billing/invoices",
            params={"ordering": "number", "page_size": 100},
            headers=(await login(client, owner.email)).headers,
        )
        found: dict[str, list[str]] = {}
        for invoice in listed.json()["results"]:
            found.setdefault(invoice["tenant_id"], []).append(invoice["number"])
        return found

    renewed = await numbers()
    assert len(renewed[broken]) == 1  # only its first invoice: the renewal was undone
    # Gapless: the four renewals took 6 to 9 after the five first invoices.
    assert sorted(n for ns in renewed.values() for n in ns) == [
        f"INV-2027-{i:06d}" for i in range(1, 10)
    ]

    monkeypatch.setattr(renewals, "attempt_charge", real_attempt)
    again = await renewals.run_renewals(runtime)
    assert (again.renewed, again.failures) == (1, [])
    assert (await numbers())[broken][-1] == "INV-2027-000010"


async def test_ended_periods_and_scheduled_ends_are_both_taken_across_batches(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    """The due subscriptions come from two index walks (periods ended, then scheduled ends
    reached before their period's end): a batch is topped up from the second, and nothing
    due is left behind or taken twice."""
    clock.set(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    plan = await make_plan(client, admin)
    renewing = []
    for _ in range(3):  # their periods end on January 20
        tenant_id = (await tenant_of(client, owner))["id"]
        renewing.append(await subscribe(client, owner, tenant_id, plan=plan["code"], max_users=2))
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    owner = await login(client, owner.email)
    ending_tenant = (await tenant_of(client, owner))["id"]
    ending = await subscribe(client, owner, ending_tenant, plan=plan["code"], max_users=2)
    put = await client.put(
        f"/api/v1/subscriptions/{ending['id']}",
        json={
            "plan": plan["code"],
            "is_active": True,
            "end_date": "2027-01-20T09:00:00Z",  # inside its period, which ends on February 1
            "billing_cycle": "monthly",
            "max_users": 2,
        },
        headers=owner.headers,
    )
    assert put.status_code == 200, put.text

    clock.set(datetime(2027, 1, 20, 9, 0, tzinfo=UTC))
    # Batches of two: [period ended x2], then [period ended + scheduled end].
    report = await renewals.run_renewals(runtime, batch_size=2)
    assert (report.renewed, report.canceled, report.failures) == (3, 1, [])
    owner = await login(client, owner.email)
    for subscription in renewing:
        got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
        assert got.json()["current_period_end"] == "2027-02-20T09:00:00Z"
    got = await client.get(f"/api/v1/subscriptions/{ending['id']}", headers=owner.headers)
    assert (got.json()["status"], got.json()["end_date"]) == ("canceled", "2027-01-20T09:00:00Z")
    again = await renewals.run_renewals(runtime, batch_size=2)
    assert (again.renewed, again.canceled) == (0, 0)
