"""A renewal batch whose commit fails after its charges, run again, charges nobody twice:
the charge is keyed by subscription and period (not by the invoice, which the failed commit
took with it), and the ledger of charges (``billing_charges``) outlives the batch, so the
re-run settles the new invoice with the first charge instead of asking Stripe again.

localstripe keeps no idempotency keys (every request makes a new PaymentIntent), so it
shows exactly what the platform itself asks for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saas_server.billing.models import ProviderCharge
from saas_server.billing.renewals import renewal_key, run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.faults import InjectedFault
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.billing import make_plan, tenant_of
from tests.fixtures.localstripe import SECRET_KEY, RecordingProxy, recording_proxy

pytestmark = pytest.mark.slow


@pytest.fixture
def stripe_proxy(localstripe: str) -> Iterator[RecordingProxy]:
    with recording_proxy(localstripe) as proxy:
        yield proxy


@pytest.fixture
def settings_overrides(stripe_proxy: RecordingProxy) -> dict[str, Any]:
    return {
        "billing_provider": "stripe",
        "stripe_secret_key": SECRET_KEY,
        "stripe_api_base": stripe_proxy.url,
        "default_tenant_limit": 10,
    }


def intents(localstripe: str, *, besides: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every PaymentIntent localstripe holds but those ``besides`` (the session's localstripe
    also holds other tests' intents), read past the code under test, page by page."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = httpx.get(
            f"{localstripe}/v1/payment_intents",
            params=params,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        answer.raise_for_status()
        page = answer.json()
        found.extend(pi for pi in page["data"] if pi["id"] not in besides)
        if not page.get("has_more") or not page["data"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


async def test_a_batch_that_fails_to_commit_after_charging_is_not_charged_again(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    localstripe: str,
    stripe_proxy: RecordingProxy,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    earlier = frozenset(pi["id"] for pi in intents(localstripe))
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    plan = await make_plan(client, admin, monthly_amount_cents=3100)
    subscriptions = []
    for _ in range(3):
        tenant_id = (await tenant_of(client, owner))["id"]
        card = await client.post(
            "/api/v1/billing/payment-methods",
            json={"tenant_id": tenant_id, "type": "card", "payment_method": "pm_card_visa"},
            headers=owner.headers,
        )
        assert card.status_code == 201, card.text
        created = await client.post(
            "/api/v1/subscriptions",
            json={"tenant_id": tenant_id, "plan": plan["code"], "max_users": 2},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        subscriptions.append(created.json())
    assert len(intents(localstripe, besides=earlier)) == 3  # the three first months

    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    owner = await login(client, owner.email)  # the January tokens have expired
    keys = {
        renewal_key(uuid.UUID(s["id"]), datetime(2027, 2, 1, 9, 0, tzinfo=UTC)): s["tenant_id"]
        for s in subscriptions
    }
    # Every charge goes through, then the batch's commit fails: its invoices are gone.
    runtime.settings.faults["renewals.commit"] = "fail"
    with pytest.raises(InjectedFault):
        await run_renewals(runtime)
    runtime.settings.faults.clear()
    renewed = [pi for pi in intents(localstripe) if pi["metadata"].get("idempotency_key") in keys]
    assert len(renewed) == 3 and all(pi["status"] == "succeeded" for pi in renewed)
    listed = await client.get("/api/v1/billing/invoices", headers=owner.headers)
    assert (
        len(listed.json()["results"]) == 3
    )  # only the first months' invoices: the batch rolled back

    # Run again: each renewal finds its charge in the ledger; Stripe is not asked again.
    report = await run_renewals(runtime)
    assert (report.renewed, report.failures) == (3, [])
    after = [pi for pi in intents(localstripe) if pi["metadata"].get("idempotency_key") in keys]
    assert sorted(pi["id"] for pi in after) == sorted(pi["id"] for pi in renewed)
    asked = [
        seen.idempotency_key
        for seen in stripe_proxy.seen
        if (seen.method, seen.path) == ("POST", "/v1/payment_intents")
        and seen.idempotency_key in keys
    ]
    assert sorted(asked) == sorted(keys)  # once each, by the failed run

    listed = await client.get(
        "/api/v1/billing/invoices",
        params={"ordering": "number", "page_size": 100},
        headers=owner.headers,
    )
    invoices = listed.json()["results"]
    # Gapless: the failed batch gave its numbers back.
    assert [i["number"] for i in invoices] == [f"INV-2027-{n:06d}" for n in range(1, 7)]
    renewals = invoices[3:]
    assert all((i["status"], i["total_cents"]) == ("paid", 3100) for i in renewals)
    by_tenant = {pi["metadata"]["tenant_id"]: pi["id"] for pi in renewed}
    async with runtime.db.transaction() as session:
        ledger = {
            row.idempotency_key: row
            for row in (
                await session.execute(
                    select(ProviderCharge).where(ProviderCharge.idempotency_key.in_(keys))
                )
            ).scalars()
        }
    assert {k: (r.status, r.amount_cents, r.currency) for k, r in ledger.items()} == {
        k: ("succeeded", 3100, "EUR") for k in keys
    }
    for key, tenant_id in keys.items():
        assert ledger[key].provider_charge_id == by_tenant[tenant_id]
