"""Delivery from the outbox to a real receiver on loopback: signatures, the retry schedule on
the injected clock, 410, Retry-After, disabling after days of failures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.webhooks import delivery as webhook_delivery
from saas_server.webhooks.models import WebhookDelivery
from tests.fixtures.auth import LoggedIn, login
from tests.fixtures.smtp import Inbox
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": True}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


async def subscribe(
    client: httpx.AsyncClient, user: LoggedIn, url: str, **extra: Any
) -> dict[str, Any]:
    body = {"url": url, "events": ["*"], **extra}
    response = await client.post("/api/v1/webhooks/endpoints", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def emit(runtime: Runtime, type_: str, tenant_id: str, **data: Any) -> str:
    async with runtime.db.transaction() as session:
        event = await events.emit(session, type_, data, tenant_id=uuid.UUID(tenant_id))
        return str(event.id)


async def tick(runtime: Runtime) -> None:
    """What the worker does: the periodic sweep, then every job due now."""
    await webhook_delivery.sweep(runtime)
    await runtime.run_pending_jobs()


async def deliveries(
    client: httpx.AsyncClient, user: LoggedIn, endpoint_id: str
) -> list[dict[str, Any]]:
    # A fresh login: the clock may have moved past the first token's lifetime.
    user = await login(client, user.email, user.password)
    response = await client.get(
        f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


async def endpoint_now(
    client: httpx.AsyncClient, user: LoggedIn, endpoint_id: str
) -> dict[str, Any]:
    user = await login(client, user.email, user.password)
    response = await client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_fails_three_times_then_succeeds_on_the_schedule(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "hooked")
    endpoint = await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    await runtime.run_pending_jobs()  # what creating the tenant queued
    receiver.received.clear()
    receiver.script[:] = [500, 500, 503]
    start = clock.now()
    event_id = await emit(runtime, "backup.completed", tenant["id"], backup_id="b-1")

    await tick(runtime)  # fan-out and the first attempt, at once
    assert len(receiver.received) == 1
    # Not due before its time: moving the clock short of the delay sends nothing.
    clock.advance(seconds=4)
    await tick(runtime)
    assert len(receiver.received) == 1
    clock.advance(seconds=1)  # 5 s after the first
    await tick(runtime)
    assert len(receiver.received) == 2
    clock.advance(minutes=4, seconds=59)
    await tick(runtime)
    assert len(receiver.received) == 2
    clock.advance(seconds=1)  # 5 min after the second
    await tick(runtime)
    assert len(receiver.received) == 3
    clock.advance(minutes=30)  # 30 min after the third: accepted
    await tick(runtime)
    assert [r.status for r in receiver.received] == [500, 500, 503, 200]
    clock.advance(hours=11)
    await tick(runtime)
    assert len(receiver.received) == 4  # accepted once, never sent again

    # Every attempt carries the same message, verified with the library on the receiving side.
    wh = Webhook(endpoint["secret"])
    for received in receiver.received:
        body = wh.verify(received.body, received.headers)
        assert body["type"] == "backup.completed"
        assert body["data"] == {"backup_id": "b-1"}
        assert set(body) == {"type", "timestamp", "data"}
        assert received.headers["webhook-id"] == event_id
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43).verify(
            receiver.received[-1].body, receiver.received[-1].headers
        )

    [delivery] = [
        d for d in await deliveries(client, owner, endpoint["id"]) if d["event_id"] == event_id
    ]
    assert delivery["status"] == "succeeded"
    attempts = delivery["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 500, 503, 200]
    offsets = [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5, seconds=5),
        timedelta(minutes=35, seconds=5),
    ]
    assert [a["attempted_at"] for a in attempts] == [
        (start + o).isoformat().replace("+00:00", "Z") for o in offsets
    ]
    assert [a["next_retry_at"] for a in attempts] == [
        (start + o).isoformat().replace("+00:00", "Z") for o in offsets[1:]
    ] + [None]
    assert all(a["response_excerpt"] and a["duration_ms"] >= 0 for a in attempts)


async def test_410_disables_the_endpoint_and_mails_its_owner(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    inbox: Inbox,
) -> None:
    tenant = await create_tenant(client, owner, "gone")
    endpoint = await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    await runtime.run_pending_jobs()
    receiver.received.clear()
    receiver.default_status = 410
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    assert len(receiver.received) == 1
    read = await endpoint_now(client, owner, endpoint["id"])
    assert read["status"] == "disabled"
    assert "410" in read["disabled_reason"]
    mail = await inbox.wait_for(owner.email, count=2)  # after the verification mail
    assert endpoint["id"] in mail.message.get_content()
    # Disabled: later events are not sent.
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    assert len(receiver.received) == 1


async def test_retry_after_is_honoured(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "throttled")
    await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    await runtime.run_pending_jobs()
    receiver.received.clear()
    receiver.script[:] = [429]
    receiver.extra_headers[429] = {"Retry-After": "120"}
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    assert len(receiver.received) == 1
    clock.advance(seconds=60)  # the schedule says 5 s; the receiver asked for 120
    await tick(runtime)
    assert len(receiver.received) == 1
    clock.advance(seconds=60)
    await tick(runtime)
    assert [r.status for r in receiver.received] == [429, 200]


async def test_failing_for_five_days_disables(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    clock: FrozenClock,
    inbox: Inbox,
) -> None:
    tenant = await create_tenant(client, owner, "flaky")
    endpoint = await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    await runtime.run_pending_jobs()
    receiver.default_status = 500
    for _ in range(5):
        await emit(runtime, "tenant.updated", tenant["id"])
        await tick(runtime)
        clock.advance(days=1)
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    read = await endpoint_now(client, owner, endpoint["id"])
    assert read["status"] == "disabled"
    assert "5 days" in read["disabled_reason"]
    assert "5 days" in (await inbox.wait_for(owner.email, count=2)).message.get_content()
    async with runtime.db.sessionmaker() as session:
        pending = (
            await session.execute(
                select(WebhookDelivery).where(WebhookDelivery.status == "pending")
            )
        ).all()
    assert pending == []


async def test_rotation_signs_with_both_secrets_for_a_day(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "rotated")
    endpoint = await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    await runtime.run_pending_jobs()
    receiver.received.clear()
    rotated = await client.post(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret", headers=owner.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    [first] = receiver.received
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(first.body, first.headers)
    Webhook(new_secret).verify(first.body, first.headers)
    clock.advance(hours=24, seconds=1)
    await emit(runtime, "tenant.updated", tenant["id"])
    await tick(runtime)
    second = receiver.received[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(second.body, second.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint["secret"]).verify(second.body, second.headers)


async def test_ping_retry_and_replay(
    client: httpx.AsyncClient,
    runtime: Runtime,
    owner: LoggedIn,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    tenant = await create_tenant(client, owner, "replayed")
    endpoint = await subscribe(client, owner, receiver.url, tenant_id=tenant["id"])
    base = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    await runtime.run_pending_jobs()
    receiver.received.clear()

    ping = await client.post(f"{base}/test", headers=owner.headers)
    assert ping.status_code == 202, ping.text
    await tick(runtime)
    [pinged] = receiver.received
    assert json.loads(pinged.body)["type"] == "ping"
    Webhook(endpoint["secret"]).verify(pinged.body, pinged.headers)

    since = clock.advance(seconds=1)  # after the tenant's own events
    ids = [await emit(runtime, "tenant.updated", tenant["id"], n=n) for n in range(3)]
    await tick(runtime)
    assert len(receiver.received) == 4

    replayed = await client.post(
        f"{base}/replay", json={"since": since.isoformat()}, headers=owner.headers
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"queued": 3}
    await tick(runtime)
    assert sorted(r.headers["webhook-id"] for r in receiver.received[4:]) == sorted(ids)

    delivery_id = (await deliveries(client, owner, endpoint["id"]))[0]["id"]
    retried = await client.post(
        f"/api/v1/webhooks/deliveries/{delivery_id}/retry", headers=owner.headers
    )
    assert retried.status_code == 202, retried.text
    await tick(runtime)
    assert len(receiver.received) == 8
