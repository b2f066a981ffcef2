"""Payment methods on the manual provider: one default per tenant, owners only, 402 for what
the provider refuses."""

from __future__ import annotations

import httpx

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import LoggedIn
from tests.fixtures.billing import member_of, subscribe, tenant_of
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox

METHODS = "/api/v1/billing/payment-methods"


async def test_one_default_per_tenant(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, owner: LoggedIn, admin: LoggedIn
) -> None:
    tenant = await tenant_of(client, owner)

    async def add(**extra: object) -> httpx.Response:
        return await client.post(
            METHODS, json={"tenant_id": tenant["id"], **extra}, headers=owner.headers
        )

    first = (await add(is_default=False)).json()
    assert first["is_default"] is True  # the first one is the default whatever was asked
    assert first["type"] == "bank_transfer" and first["provider"] == "manual"
    second = (await add()).json()
    third = (await add(is_default=False)).json()
    listed = (await client.get(METHODS, headers=owner.headers)).json()["results"]
    defaults = {m["id"] for m in listed if m["is_default"]}
    assert defaults == {second["id"]} and len(listed) == 3

    # The manual provider takes bank transfers only: the provider's refusal is a 402.
    card = await add(type="card", payment_method="pm_card_visa")
    error = assert_envelope(card, 402, "BILLING_ERROR")
    assert error["details"]["provider_code"] == "payment_method_not_available"

    # A subscription may name one of the tenant's methods, never another tenant's.
    other_tenant = await tenant_of(client, admin)
    foreign = (
        await client.post(METHODS, json={"tenant_id": other_tenant["id"]}, headers=admin.headers)
    ).json()
    refused = await client.post(
        "/api/v1/subscriptions",
        json={"tenant_id": tenant["id"], "plan": "starter", "payment_method_id": foreign["id"]},
        headers=owner.headers,
    )
    assert "payment_method_id" in assert_envelope(refused, 422, "VALIDATION_ERROR")["details"]
    subscription = await subscribe(client, owner, tenant["id"], payment_method_id=third["id"])
    assert subscription["payment_method_id"] == third["id"]

    # Members see them and may not change them; strangers get 404.
    member = await member_of(client, runtime, inbox, owner, tenant)
    assert (await client.get(METHODS, headers=member.headers)).json()["count"] == 3
    assert_envelope(
        await client.post(METHODS, json={"tenant_id": tenant["id"]}, headers=member.headers),
        403,
        "FORBIDDEN",
    )
    assert_envelope(
        await client.delete(f"{METHODS}/{foreign['id']}", headers=owner.headers),
        404,
        "PAYMENT_METHOD_NOT_FOUND",
    )

    # Removing the default makes the newest remaining one the default; a subscription
    # that named a removed method falls back to the default.
    assert (
        await client.delete(f"{METHODS}/{second['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{METHODS}/{third['id']}", headers=owner.headers)
    ).status_code == 204
    left = (await client.get(METHODS, headers=owner.headers)).json()["results"]
    assert [(m["id"], m["is_default"]) for m in left] == [(first["id"], True)]
    got = await client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=owner.headers)
    assert got.json()["payment_method_id"] is None
