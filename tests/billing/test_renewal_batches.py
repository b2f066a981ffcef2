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
