"""The billing cycle of test_year.py, shorter, on the Stripe provider against localstripe:
cards added through the API, charges at once with the exact amounts, proration, renewals on
the moved clock, a declining card through dunning to suspension and back; and, on the
charging POSTs, a decline answered 402 and a replayed ``Idempotency-Key`` charged once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from saas_server.billing.renewals import run_renewals
from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.backups import ready_tenant, take_backup
from tests.fixtures.billing import make_plan, subscribe, tenant_of
from tests.fixtures.localstripe import (
    SECRET_KEY,
    RecordingProxy,
    recording_proxy,
    register_webhook,
)
from tests.fixtures.odoo import EmulatorProcess
from tests.fixtures.provisioning import add_host

pytestmark = pytest.mark.slow

WEBHOOK_SECRET = "whsec_test_platform_endpoint"
WEBHOOK_PATH = "/api/v1/billing/webhooks/stripe"
# localstripe waits a second before it delivers; the machine may be loaded.
DELIVERY_TIMEOUT_SECONDS = 30.0
# Attaches to a customer, then every charge on it is declined.
DECLINING_CARD = "4000000000000341"
MASTERCARD = "5555555555554444"


@pytest.fixture
def stripe_proxy(localstripe: str) -> Iterator[RecordingProxy]:
    """Every call the platform makes to Stripe goes through this recorder."""
    with recording_proxy(localstripe) as proxy:
        yield proxy


@pytest.fixture
def settings_overrides(stripe_proxy: RecordingProxy) -> dict[str, Any]:
    return {
        "billing_provider": "stripe",
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stripe_proxy.url,
    }


def stripe_get(localstripe: str, path: str, **params: Any) -> dict[str, Any]:
    """What localstripe holds, read over its API (not through the code under test)."""
    answer = httpx.get(
        f"{localstripe}/v1/{path}",
        params=params,
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def card_payment_method(localstripe: str, number: str) -> str:
    """A card made into a PaymentMethod at Stripe, as Stripe.js does in the owner's browser:
    the platform only ever receives its ``pm_`` id."""
    answer = httpx.post(
        f"{localstripe}/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def intents_for(localstripe: str, invoice_id: str) -> list[dict[str, Any]]:
    listed = stripe_get(localstripe, "payment_intents", limit=100)["data"]
    return [pi for pi in listed if pi.get("metadata", {}).get("invoice_id") == invoice_id]


async def add_card(
    client: httpx.AsyncClient, owner: LoggedIn, tenant_id: str, payment_method: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/billing/payment-methods",
        json={"tenant_id": tenant_id, "type": "card", "payment_method": payment_method},
        headers=owner.headers,
    )


async def test_a_cycle_on_stripe(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    localstripe: str,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    o, a = owner, admin

    async def at(moment: datetime) -> None:
        nonlocal o, a
        clock.set(moment)
        o, a = await login(client, owner.email), await login(client, admin.email)

    await at(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    small = await make_plan(client, a, monthly_amount_cents=3100)
    large = await make_plan(client, a, monthly_amount_cents=6200)
    await add_host(client, a, odoo)
    tenant = {"id": (await ready_tenant(client, runtime, o, odoo)).id}

    async def renew() -> Any:
        report = await run_renewals(runtime)
        await runtime.run_pending_jobs()
        return report

    async def invoices() -> list[dict[str, Any]]:
        response = await client.get(
            "/api/v1/billing/invoices", params={"ordering": "number"}, headers=o.headers
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]  # type: ignore[no-any-return]

    async def state() -> tuple[str, str, str]:
        got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=o.headers)
        detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=a.headers)).json()
        assert detail["is_active"] is True  # the record's own switch: suspension leaves it
        return got.json()["status"], detail["status"], detail["instance"]["status"]

    def charged(invoice: dict[str, Any]) -> tuple[int, str, str]:
        [intent] = [pi for pi in intents_for(localstripe, invoice["id"])]
        return intent["amount"], intent["currency"], intent["status"]

    visa = await add_card(client, o, tenant["id"], "pm_card_visa")
    assert visa.status_code == 201, visa.text
    assert (visa.json()["provider"], visa.json()["brand"], visa.json()["last4"]) == (
        "stripe",
        "visa",
        "4242",
    )
    assert visa.json()["is_default"] is True

    # No trial: the first month is charged at once.
    created = await client.post(
        "/api/v1/subscriptions",
        json={"tenant_id": tenant["id"], "plan": small["code"], "max_users": 2},
        headers=o.headers,
    )
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["status"] == "active"
    [first] = await invoices()
    assert (first["total_cents"], first["currency"], first["status"]) == (3100, "EUR", "paid")
    assert charged(first) == (3100, "eur", "succeeded")

    # Ten days in (21 of 31 left): 3100 * 21/31 = 2100 credited, 6200 * 21/31 = 4200 charged.
    await at(datetime(2027, 1, 11, 9, 0, tzinfo=UTC))
    upgraded = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"plan": large["code"]},
        headers=o.headers,
    )
    assert upgraded.status_code == 200, upgraded.text
    second = (await invoices())[1]
    assert (second["total_cents"], second["status"]) == (2100, "paid")
    assert charged(second) == (2100, "eur", "succeeded")

    # February 1: renewed on the larger plan and charged.
    await at(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    assert (await renew()).renewed == 1
    third = (await invoices())[2]
    assert (third["total_cents"], third["status"]) == (6200, "paid")
    assert charged(third) == (6200, "eur", "succeeded")
    assert await state() == ("active", "ready", "ready")

    # The default card becomes one that attaches but declines every charge.
    declining = await add_card(
        client, o, tenant["id"], card_payment_method(localstripe, DECLINING_CARD)
    )
    assert declining.status_code == 201, declining.text
    assert declining.json()["is_default"] is True
    assert declining.json()["last4"] == "0341"

    # March 1: the renewal is declined; retried on days 1, 3, 5, then suspended on day 7.
    await at(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    await renew()
    fourth = (await invoices())[3]
    assert (fourth["total_cents"], fourth["status"]) == (6200, "open")
    assert await state() == ("past_due", "ready", "ready")
    for day in (2, 4, 6):
        await at(datetime(2027, 3, day, 9, 0, tzinfo=UTC))
        assert (await renew()).retried == 1
        assert await state() == ("past_due", "ready", "ready")
    await at(datetime(2027, 3, 8, 9, 0, tzinfo=UTC))
    assert (await renew()).suspended == 1
    assert await state() == ("unpaid", "suspended", "stopped")
    listed = await client.get("/api/v1/tenants", params={"status": "suspended"}, headers=o.headers)
    assert [t["id"] for t in listed.json()["results"]] == [tenant["id"]]
    declined = intents_for(localstripe, fourth["id"])
    assert len(declined) == 5
    assert all(pi["amount"] == 6200 and pi["status"] != "succeeded" for pi in declined)

    # A good card replaces it: the next run charges the open invoice and brings the tenant back.
    good = await add_card(client, o, tenant["id"], card_payment_method(localstripe, MASTERCARD))
    assert good.status_code == 201, good.text
    assert good.json()["is_default"] is True
    await at(datetime(2027, 3, 8, 10, 0, tzinfo=UTC))
    assert (await renew()).reactivated == 1
    assert await state() == ("active", "ready", "ready")
    fourth = (await invoices())[3]
    assert fourth["status"] == "paid"
    paid = [pi for pi in intents_for(localstripe, fourth["id"]) if pi["status"] == "succeeded"]
    assert [(pi["amount"], pi["currency"]) for pi in paid] == [(6200, "eur")]

    # Canceled at the period's end: nothing more is charged.
    canceled = await client.post(
        f"/api/v1/subscriptions/{subscription['id']}/cancel",
        json={"at_period_end": True},
        headers=o.headers,
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["cancel_at_period_end"] is True
    await at(datetime(2027, 4, 1, 9, 0, tzinfo=UTC))
    assert (await renew()).canceled == 1
    assert (await state())[0] == "canceled"
    await at(datetime(2027, 6, 1, 9, 0, tzinfo=UTC))
    await renew()
    assert len(await invoices()) == 4


async def test_a_declined_card_on_a_charging_post_is_402_and_changes_nothing(
    client: httpx.AsyncClient, localstripe: str, owner: LoggedIn, admin: LoggedIn
) -> None:
    plan = await make_plan(client, admin)
    tenant = await tenant_of(client, owner)
    added = await add_card(
        client, owner, tenant["id"], card_payment_method(localstripe, DECLINING_CARD)
    )
    assert added.status_code == 201, added.text

    refused = await client.post(
        "/api/v1/subscriptions",
        json={"tenant_id": tenant["id"], "plan": plan["code"], "max_users": 2},
        headers=owner.headers,
    )
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "BILLING_ERROR"
    assert error["details"]["provider_code"] == "card_declined"
    assert error["details"]["reason"] == "Your card was declined."
    # Nothing half-done: no subscription, no invoice.
    listed = await client.get(
        "/api/v1/subscriptions", params={"tenant_id": tenant["id"]}, headers=owner.headers
    )
    assert listed.json()["count"] == 0
    assert (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()[
        "count"
    ] == 0


async def test_a_replayed_idempotency_key_charges_once(
    client: httpx.AsyncClient,
    stripe_proxy: RecordingProxy,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    plan = await make_plan(client, admin)
    tenant = await tenant_of(client, owner)
    assert (await add_card(client, owner, tenant["id"], "pm_card_visa")).status_code == 201
    before = len(stripe_proxy.seen)

    body = {"tenant_id": tenant["id"], "plan": plan["code"], "max_users": 2}
    headers = {**owner.headers, "Idempotency-Key": "subscribe-once"}
    first = await client.post("/api/v1/billing/subscriptions", json=body, headers=headers)
    again = await client.post("/api/v1/billing/subscriptions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    charges = [
        seen
        for seen in stripe_proxy.seen[before:]
        if (seen.method, seen.path) == ("POST", "/v1/payment_intents")
    ]
    assert len(charges) == 1
    [invoice] = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()[
        "results"
    ]
    assert (invoice["total_cents"], invoice["status"]) == (3100, "paid")


async def test_a_payment_made_at_stripe_reactivates_through_its_signed_webhook(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    live_server: str,
    localstripe: str,
    owner: LoggedIn,
    admin: LoggedIn,
) -> None:
    """Suspended for an unpaid renewal, the owner pays the invoice at Stripe (a PaymentIntent
    naming it, as a hosted payment page makes): localstripe signs and delivers
    ``payment_intent.succeeded`` to the running server, which settles the invoice."""
    register_webhook(localstripe, url=live_server + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
    o, a = owner, admin

    async def at(moment: datetime) -> None:
        nonlocal o, a
        clock.set(moment)
        o, a = await login(client, owner.email), await login(client, admin.email)

    async def state() -> tuple[str, str]:
        got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=o.headers)
        detail = (await client.get(f"/api/v1/tenants/{tenant['id']}", headers=a.headers)).json()
        return got.json()["status"], detail["status"]

    await at(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    plan = await make_plan(client, a)
    tenant = await tenant_of(client, o)
    assert (await add_card(client, o, tenant["id"], "pm_card_visa")).status_code == 201
    subscription = await subscribe(client, o, tenant["id"], plan=plan["code"], max_users=2)
    declining = card_payment_method(localstripe, DECLINING_CARD)
    assert (await add_card(client, o, tenant["id"], declining)).status_code == 201

    for day in (1, 2, 4, 6, 8):  # the renewal, then retries on days 1, 3, 5 and 7
        await at(datetime(2027, 2, day, 9, 0, tzinfo=UTC))
        await run_renewals(runtime)
    # No host took its instance: it was still provisioning, and shows so again once paid.
    assert await state() == ("unpaid", "suspended")
    [_, renewal] = (
        await client.get(
            "/api/v1/billing/invoices", params={"ordering": "number"}, headers=o.headers
        )
    ).json()["results"]
    assert renewal["status"] == "open"

    paid = httpx.post(
        f"{localstripe}/v1/payment_intents",
        data={
            "amount": str(renewal["total_cents"]),
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": "true",
            "metadata[invoice_id]": renewal["id"],
        },
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    paid.raise_for_status()
    assert paid.json()["status"] == "succeeded"

    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while await state() != ("active", "provisioning"):
        assert time.monotonic() < deadline, "the payment's webhook did not reactivate the tenant"
        await asyncio.sleep(0.2)  # waiting on localstripe's delivery, not on a schedule
    got = (await client.get(f"/api/v1/billing/invoices/{renewal['id']}", headers=o.headers)).json()
    assert got["status"] == "paid"


async def test_a_declined_upgrade_is_402_and_keeps_the_old_plan(
    client: httpx.AsyncClient, localstripe: str, owner: LoggedIn, admin: LoggedIn
) -> None:
    small = await make_plan(client, admin, monthly_amount_cents=3100)
    large = await make_plan(client, admin, monthly_amount_cents=6200)
    tenant = await tenant_of(client, owner)
    assert (await add_card(client, owner, tenant["id"], "pm_card_visa")).status_code == 201
    subscription = await subscribe(client, owner, tenant["id"], plan=small["code"], max_users=2)
    declining = card_payment_method(localstripe, DECLINING_CARD)
    assert (await add_card(client, owner, tenant["id"], declining)).status_code == 201

    refused = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"plan": large["code"]},
        headers=owner.headers,
    )
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["details"]["provider_code"] == "card_declined"
    got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
    assert (got.json()["plan"], got.json()["status"]) == (small["code"], "active")
    listed = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()
    assert [invoice["total_cents"] for invoice in listed["results"]] == [3100]


async def test_trials_on_stripe_end_charged_or_suspended_with_the_instance(
    clock: FrozenClock,
    client: httpx.AsyncClient,
    runtime: Runtime,
    localstripe: str,
    owner: LoggedIn,
    admin: LoggedIn,
    odoo: EmulatorProcess,
) -> None:
    """Two tenants on a 14-day trial: the one with a card is charged when it ends and goes
    active; the one without is suspended (its Odoo stopped, nobody may start it) until a
    card is added, when the next run charges the invoice and starts its Odoo again."""
    o, a = owner, admin

    async def at(moment: datetime) -> None:
        nonlocal o, a
        clock.set(moment)
        o, a = await login(client, owner.email), await login(client, admin.email)

    async def state(tenant_id: str, subscription_id: str) -> tuple[str, str, str]:
        got = await client.get(f"/api/v1/subscriptions/{subscription_id}", headers=o.headers)
        detail = (await client.get(f"/api/v1/tenants/{tenant_id}", headers=a.headers)).json()
        return got.json()["status"], detail["status"], detail["instance"]["status"]

    async def invoices_of(tenant_id: str) -> list[dict[str, Any]]:
        listed = await client.get(
            "/api/v1/billing/invoices", params={"tenant_id": tenant_id}, headers=o.headers
        )
        return listed.json()["results"]  # type: ignore[no-any-return]

    await at(datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    plan = await make_plan(client, a, monthly_amount_cents=3100, trial_days=14)
    await add_host(client, a, odoo)
    carded = (await ready_tenant(client, runtime, o, odoo)).id
    bare_tenant = await ready_tenant(client, runtime, o, odoo)
    bare = bare_tenant.id
    backup = await take_backup(client, runtime, o, bare_tenant)
    assert (await add_card(client, o, carded, "pm_card_visa")).status_code == 201
    paying = await subscribe(client, o, carded, plan=plan["code"], max_users=2)
    trying = await subscribe(client, o, bare, plan=plan["code"], max_users=2)
    assert paying["status"] == trying["status"] == "trialing"
    assert await invoices_of(carded) == []

    await at(datetime(2027, 1, 15, 9, 0, tzinfo=UTC))
    report = await run_renewals(runtime)
    await runtime.run_pending_jobs()
    assert (report.renewed, report.suspended) == (2, 1)
    [charged] = await invoices_of(carded)
    assert (charged["total_cents"], charged["status"]) == (3100, "paid")
    [intent] = intents_for(localstripe, charged["id"])
    assert (intent["amount"], intent["currency"], intent["status"]) == (3100, "eur", "succeeded")
    assert await state(carded, paying["id"]) == ("active", "ready", "ready")
    [unpaid] = await invoices_of(bare)
    assert (unpaid["total_cents"], unpaid["status"]) == (3100, "open")
    assert intents_for(localstripe, unpaid["id"]) == []
    assert await state(bare, trying["id"]) == ("unpaid", "suspended", "stopped")

    # Suspended: neither its owner nor an admin can start its Odoo; the admin list shows it.
    instance_id = (await client.get(f"/api/v1/tenants/{bare}", headers=o.headers)).json()[
        "instance"
    ]["id"]
    started = await client.post(
        f"/api/v1/instances/{instance_id}/actions", json={"action": "start"}, headers=o.headers
    )
    assert started.status_code == 409, started.text
    assert started.json()["error"]["details"]["tenant_status"] == "suspended"
    forced = await client.post(
        f"/api/v1/admin/tenants/{bare}/actions",
        json={"action": "start", "reason": "customer asked"},
        headers=a.headers,
    )
    assert forced.status_code == 409, forced.text
    restored = await client.post(
        f"/api/v1/tenants/{bare}/backups/{backup['id']}/restore", json={}, headers=o.headers
    )
    assert restored.status_code == 409, restored.text
    listed = await client.get(
        "/api/v1/admin/tenants", params={"status": "suspended"}, headers=a.headers
    )
    assert [t["id"] for t in listed.json()["results"]] == [bare]

    # A card is added: the next run charges the open invoice and starts the Odoo again.
    assert (await add_card(client, o, bare, "pm_card_visa")).status_code == 201
    await at(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    report = await run_renewals(runtime)
    await runtime.run_pending_jobs()
    assert report.reactivated == 1
    assert await state(bare, trying["id"]) == ("active", "ready", "ready")
    [paid] = await invoices_of(bare)
    assert paid["status"] == "paid"
    assert [pi["status"] for pi in intents_for(localstripe, paid["id"])] == ["succeeded"]
