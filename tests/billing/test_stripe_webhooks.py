"""Stripe's webhooks into the platform: verified with the library's verifier, recorded once,
handed to the billing engine's hook in the same transaction."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.billing.provider_event_models import ProviderEventReceipt
from saas_server.billing.provider_events import provider_event_received
from saas_server.billing.providers.base import ProviderError, ProviderEvent
from saas_server.billing.providers.stripe import StripeProvider
from saas_server.core.runtime import Runtime
from tests.fixtures.localstripe import SECRET_KEY, register_webhook, stripe_signature

WEBHOOK_SECRET = "whsec_test_platform_endpoint"
PATH = "/api/v1/billing/webhooks/stripe"
# localstripe waits a second before it delivers; the machine may be loaded.
DELIVERY_TIMEOUT_SECONDS = 30.0


@pytest.fixture
def settings_overrides(localstripe: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Stripe as the provider, pointed at localstripe; a test changes some with
    ``@pytest.mark.parametrize("settings_overrides", [{...}], indirect=True)``."""
    values: dict[str, Any] = {
        "billing_provider": "stripe",
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": localstripe,
    }
    values.update(getattr(request, "param", {}))
    return values


class Received:
    """What the billing engine's handler would get: each event, and whether its receipt was
    already in the handler's transaction when it ran."""

    def __init__(self) -> None:
        self.events: list[ProviderEvent] = []
        self.receipt_visible: list[bool] = []
        self.fail_next = False

    async def __call__(self, session: AsyncSession, runtime: Runtime, event: ProviderEvent) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the engine failed while applying the event")
        found = await session.get(ProviderEventReceipt, ("stripe", event.id))
        self.receipt_visible.append(found is not None)
        self.events.append(event)

    def of_type(self, type_: str) -> list[ProviderEvent]:
        return [event for event in self.events if event.type == type_]


@pytest.fixture
def received() -> Iterator[Received]:
    """The only handler while the test runs: these tests are about receipts, and their events
    name no invoice the billing engine's own handler (connected by wiring) would know."""
    wired = provider_event_received.handlers
    for other in wired:
        provider_event_received.disconnect(other)
    handler = Received()
    provider_event_received.connect(handler)
    try:
        yield handler
    finally:
        provider_event_received.disconnect(handler)
        for other in wired:
            provider_event_received.connect(other)


async def receipts(runtime: Runtime, event_id: str | None = None) -> int:
    async with runtime.db.sessionmaker() as session:
        query = select(func.count()).select_from(ProviderEventReceipt)
        if event_id is not None:
            query = query.where(ProviderEventReceipt.event_id == event_id)
        return int((await session.execute(query)).scalar_one())


def event_body(type_: str = "payment_intent.succeeded", **obj: Any) -> bytes:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:14]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "api_version": "2017-08-15",
        "data": {"object": {"id": "pi_test", "object": "payment_intent", **obj}},
    }
    return json.dumps(event).encode()


def signed(body: bytes, secret: str = WEBHOOK_SECRET, **kwargs: Any) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": stripe_signature(body, secret, **kwargs),
    }


async def wait_for(received: Received, type_: str, object_id: str) -> ProviderEvent:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for event in received.of_type(type_):
            if event.data.get("id") == object_id:
                return event
        await asyncio.sleep(0.1)  # waiting on another process's delivery, not on a schedule
    raise AssertionError(f"no {type_} for {object_id} arrived: {received.events}")


async def test_localstripe_signed_deliveries_are_verified_recorded_and_handed_on(
    live_server: str, localstripe: str, runtime: Runtime, received: Received
) -> None:
    register_webhook(localstripe, url=live_server + PATH, secret=WEBHOOK_SECRET)
    provider = StripeProvider(
        secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET, api_base=localstripe
    )
    customer = await provider.ensure_customer(
        account_ref=str(uuid.uuid4()), email="payer@example.com", name="Payer", customer_id=None
    )
    visa = await provider.attach_payment_method(
        customer_id=customer, source={"payment_method": "pm_card_visa"}
    )
    paid = await provider.charge(
        customer_id=customer,
        payment_method_id=visa.provider_id,
        amount_cents=4200,
        currency="EUR",
        description="Invoice INV-000042",
        idempotency_key=f"charge-{uuid.uuid4()}",
        metadata={"invoice_id": "inv-42"},
    )
    failing = await provider.attach_payment_method(
        customer_id=customer, source={"payment_method": "pm_card_chargeCustomerFail"}
    )
    with pytest.raises(ProviderError):
        await provider.charge(
            customer_id=customer,
            payment_method_id=failing.provider_id,
            amount_cents=4200,
            currency="EUR",
            description="Invoice INV-000043",
            idempotency_key=f"charge-{uuid.uuid4()}",
            metadata={"invoice_id": "inv-43"},
        )

    succeeded = await wait_for(received, "payment_intent.succeeded", str(paid.provider_charge_id))
    assert succeeded.data["amount"] == 4200
    assert succeeded.data["metadata"]["invoice_id"] == "inv-42"
    # A declined charge has no id in our hands (the provider raised): found by its invoice.
    failed = await wait_for_any(received, "payment_intent.payment_failed", "inv-43")
    assert failed.data["customer"] == customer
    # Each recorded in the transaction that handed it on, and once.
    assert all(received.receipt_visible)
    for event in (succeeded, failed):
        assert await receipts(runtime, event.id) == 1


async def wait_for_any(received: Received, type_: str, invoice_id: str) -> ProviderEvent:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for event in received.of_type(type_):
            if event.data.get("metadata", {}).get("invoice_id") == invoice_id:
                return event
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {type_} for {invoice_id} arrived: {received.events}")


async def test_a_replayed_event_is_acknowledged_and_not_applied_twice(
    client: httpx.AsyncClient, runtime: Runtime, received: Received
) -> None:
    body = event_body(amount=1500)
    event_id = json.loads(body)["id"]
    first = await client.post(PATH, content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"id": event_id, "type": "payment_intent.succeeded", "duplicate": False}
    # Stripe retries with a fresh signature; an attacker replays the same one: neither applies.
    for headers in (signed(body), signed(body, timestamp=int(time.time()) - 5)):
        again = await client.post(PATH, content=body, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] is True
    assert [event.id for event in received.events] == [event_id]
    assert received.events[0].data["amount"] == 1500
    assert await receipts(runtime, event_id) == 1


async def test_concurrent_deliveries_of_one_event_apply_it_once(
    client: httpx.AsyncClient, runtime: Runtime, received: Received
) -> None:
    body = event_body()
    answers = await asyncio.gather(
        *(client.post(PATH, content=body, headers=signed(body)) for _ in range(5))
    )
    assert [answer.status_code for answer in answers] == [200] * 5
    assert sorted(answer.json()["duplicate"] for answer in answers) == [False] + [True] * 4
    assert len(received.events) == 1
    assert await receipts(runtime) == 1


@pytest.mark.parametrize(
    "forge",
    ["wrong-secret", "tampered-body", "no-signature", "stale", "not-json"],
)
async def test_a_forged_event_is_401_and_nothing_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, received: Received, forge: str
) -> None:
    body = event_body()
    headers = signed(body)
    if forge == "wrong-secret":
        headers = signed(body, secret="whsec_someone_else")
    elif forge == "tampered-body":
        body = body.replace(b'"payment_intent.succeeded"', b'"payment_intent.payment_failed"')
    elif forge == "no-signature":
        del headers["Stripe-Signature"]
    elif forge == "stale":  # a capture replayed past the verifier's five minutes
        headers = signed(body, timestamp=int(time.time()) - 3600)
    elif forge == "not-json":
        body = b"not json at all"
        headers = signed(body)
    answer = await client.post(PATH, content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["message"] == "The webhook's signature does not verify"
    assert error["request_id"]
    assert received.events == []
    assert await receipts(runtime) == 0


async def test_a_failure_while_applying_keeps_no_receipt_so_the_retry_applies_it(
    client: httpx.AsyncClient, runtime: Runtime, received: Received
) -> None:
    body = event_body()
    received.fail_next = True
    failed = await client.post(PATH, content=body, headers=signed(body))
    # Stripe retries any answer other than 2xx.
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "INTERNAL_ERROR"
    assert await receipts(runtime) == 0

    retried = await client.post(PATH, content=body, headers=signed(body))
    assert retried.status_code == 200
    assert retried.json()["duplicate"] is False
    assert len(received.events) == 1
    assert await receipts(runtime) == 1


@pytest.mark.parametrize("settings_overrides", [{"stripe_webhook_secret": None}], indirect=True)
async def test_without_a_webhook_secret_every_event_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, received: Received
) -> None:
    body = event_body()
    answer = await client.post(PATH, content=body, headers=signed(body))
    assert answer.status_code == 401
    assert received.events == []
    assert await receipts(runtime) == 0
