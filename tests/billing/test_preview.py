"""The proration preview: the exact cents an upgrade would charge now, with nothing changed,
equal to the invoice the same change then makes at the same moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn, login, verified_user
from tests.fixtures.billing import make_plan, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"billing_tax_rates": {"DE": 1900}}


@pytest.fixture
def march(clock: FrozenClock) -> FrozenClock:
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    return clock


async def _invoices(client: httpx.AsyncClient, owner: LoggedIn) -> list[dict[str, Any]]:
    listed = (await client.get("/api/v1/billing/invoices", headers=owner.headers)).json()
    return listed["results"]  # type: ignore[no-any-return]


async def test_an_upgrade_preview_is_the_invoice_to_the_cent_and_changes_nothing(
    march: FrozenClock,
    client: httpx.AsyncClient,
    owner: LoggedIn,
    admin: LoggedIn,
    clock: FrozenClock,
) -> None:
    team = await make_plan(client, admin)
    team_plus = await make_plan(client, admin, name="Team Plus", monthly_amount_cents=6200)
    tenant = await tenant_of(client, owner)
    details = await client.patch(
        f"/api/v1/tenants/{tenant['id']}/billing", json={"country": "de"}, headers=owner.headers
    )
    assert details.status_code == 200, details.text
    subscription = await subscribe(client, owner, tenant["id"], plan=team["code"], max_users=3)
    url = f"/api/v1/subscriptions/{subscription['id']}/preview"

    # Ten days in, 21 of March's 31 days are left.
    clock.set(datetime(2027, 3, 11, tzinfo=UTC))
    owner, admin = await login(client, owner.email), await login(client, admin.email)
    change = {"plan": team_plus["code"], "max_users": 4}
    preview = await client.post(url, json=change, headers=owner.headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["applies"] == "now" and body["currency"] == team["currency"]
    assert body["at"] == body["effective_at"] == "2027-03-11T00:00:00Z"
    # Credit 4100 * 21/31 = 2777.42 -> 2777; charge 8200 * 21/31 = 5554.84 -> 5555.
    assert [(ln["amount_cents"], ln["proration"]) for ln in body["lines"]] == [
        (-2777, True),
        (5555, True),
    ]
    assert (body["current_period_amount_cents"], body["new_period_amount_cents"]) == (4100, 8200)
    assert (body["subtotal_cents"], body["tax_rate_basis_points"]) == (2778, 1900)
    assert (body["tax_cents"], body["total_cents"]) == (528, 3306)

    # Nothing changed: same plan and seats, no new invoice; asking twice answers the same.
    assert len(await _invoices(client, owner)) == 1
    unchanged = await client.get(
        f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers
    )
    assert (unchanged.json()["plan"], unchanged.json()["max_users"]) == (team["code"], 3)
    assert (await client.post(url, json=change, headers=owner.headers)).json() == body

    # The change itself then invoices exactly the previewed lines and total.
    upgraded = await client.patch(
        f"/api/v1/subscriptions/{subscription['id']}", json=change, headers=owner.headers
    )
    assert upgraded.status_code == 200, upgraded.text
    [invoice_id] = [
        i["id"] for i in await _invoices(client, owner) if i["reason"] != "subscription_create"
    ]
    invoice = (
        await client.get(f"/api/v1/billing/invoices/{invoice_id}", headers=owner.headers)
    ).json()
    assert [ln["amount_cents"] for ln in invoice["lines"]] == [
        ln["amount_cents"] for ln in body["lines"]
    ]
    assert [ln["description"] for ln in invoice["lines"]] == [
        ln["description"] for ln in body["lines"]
    ]
    assert (invoice["subtotal_cents"], invoice["tax_cents"], invoice["total_cents"]) == (
        2778,
        528,
        3306,
    )

    # A downgrade waits for the period's end: nothing now.
    down = (
        await client.post(url, json={"plan": team["code"], "max_users": 2}, headers=owner.headers)
    ).json()
    assert down["applies"] == "period_end" and down["lines"] == [] and down["total_cents"] == 0
    assert down["effective_at"] == "2027-04-01T00:00:00Z"
    same = (await client.post(url, json={}, headers=owner.headers)).json()
    assert same["applies"] == "unchanged" and same["total_cents"] == 0


async def test_preview_refuses_bad_input_clearly(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn, admin: LoggedIn
) -> None:
    outsider = await verified_user(client, runtime, inbox, "outsider@example.com")
    team = await make_plan(client, admin)
    tenant = await tenant_of(client, owner)
    subscription = await subscribe(client, owner, tenant["id"], plan=team["code"], max_users=3)
    url = f"/api/v1/subscriptions/{subscription['id']}/preview"
    unknown = await client.post(url, json={"plan": "nope"}, headers=owner.headers)
    assert_envelope(unknown, 422, "VALIDATION_ERROR")
    too_many = await client.post(url, json={"max_users": 11}, headers=owner.headers)
    assert_envelope(too_many, 422, "VALIDATION_ERROR")
    extra = await client.post(url, json={"is_active": False}, headers=owner.headers)
    assert_envelope(extra, 422, "VALIDATION_ERROR")
    stranger = await client.post(url, json={}, headers=outsider.headers)
    assert stranger.status_code == 404
    missing = await client.post(
        "/api/v1/subscriptions/00000000-0000-0000-0000-000000000000/preview",
        json={},
        headers=owner.headers,
    )
    assert missing.status_code == 404
