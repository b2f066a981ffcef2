"""The intake: signed, from allowed addresses, stored once per event_id, answered at once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.integrations.intake import sign
from saas_server.integrations.models import InboundEvent
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope
from tests.fixtures.integrations import SECRET, create_provider, event_body, post_signed


async def stored_events(runtime: Runtime) -> list[InboundEvent]:
    async with runtime.db.sessionmaker() as session:
        return list((await session.execute(select(InboundEvent))).scalars())


async def outbox_types(runtime: Runtime) -> list[str]:
    """The events the intake re-emitted (the accounts the test made emit ``user.*`` too)."""
    async with runtime.db.sessionmaker() as session:
        query = select(OutboxEvent.type).where(OutboxEvent.type.startswith("integration."))
        return list((await session.execute(query.order_by(OutboxEvent.seq))).scalars())


async def test_a_signed_event_is_accepted_at_once_and_processed_by_a_job(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    provider = await create_provider(client, admin, name="crm")
    body = event_body("Deal.Won", "evt_1", deal="d-42")
    response = await post_signed(client, "crm", body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted" and response.json()["event_id"] == "evt_1"
    [event] = await stored_events(runtime)
    # Accepted, not processed inside the request.
    assert event.status == "pending" and event.attempts == 0
    assert event.provider_id is not None and str(event.provider_id) == provider["id"]
    assert await outbox_types(runtime) == []

    await runtime.run_pending_jobs()
    [event] = await stored_events(runtime)
    assert event.status == "processed" and event.attempts == 1
    assert await outbox_types(runtime) == ["integration.crm.deal.won"]
    async with runtime.db.sessionmaker() as session:
        outbox = (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.type.startswith("integration."))
            )
        ).scalar_one()
    assert outbox.data["data"] == {"deal": "d-42"} and outbox.data["event_id"] == "evt_1"


async def test_the_other_signature_header_without_prefix_is_accepted(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await create_provider(client, admin, name="crm")
    response = await post_signed(client, "crm", event_body("ping"), header="X-Webhook-Signature")
    assert response.status_code == 202, response.text


async def test_a_forged_or_missing_signature_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm")
    body = event_body("user.created", "evt_forged")
    forged = await post_signed(client, "crm", body, secret="not-the-provider-secret")
    assert_envelope(forged, 401, "UNAUTHORIZED")
    # The signature of another body.
    other = await post_signed(client, "crm", body, signature=sign(SECRET, body + b" "))
    assert_envelope(other, 401, "UNAUTHORIZED")
    missing = await client.post(
        "/api/v1/integrations/webhooks/crm",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(missing, 401, "UNAUTHORIZED")
    garbage = await post_signed(client, "crm", body, signature="not-hex-at-all")
    assert_envelope(garbage, 401, "UNAUTHORIZED")
    await runtime.run_pending_jobs()
    assert await stored_events(runtime) == []
    assert await outbox_types(runtime) == []


async def test_unknown_and_inactive_providers(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    assert_envelope(await post_signed(client, "nobody", event_body("x")), 404, "PROVIDER_NOT_FOUND")
    provider = await create_provider(client, admin, name="crm")
    await client.patch(
        f"/api/v1/integrations/providers/{provider['id']}",
        json={"is_active": False},
        headers=admin.headers,
    )
    assert_envelope(await post_signed(client, "crm", event_body("x")), 401, "UNAUTHORIZED")
    assert await stored_events(runtime) == []


async def test_the_same_event_twice_is_acknowledged_and_processed_once(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm")
    body = event_body("deal.won", "evt_twice")
    first = await post_signed(client, "crm", body)
    await runtime.run_pending_jobs()
    second = await post_signed(client, "crm", body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate", "id": None, "event_id": "evt_twice"}
    await runtime.run_pending_jobs()
    assert len(await stored_events(runtime)) == 1
    assert await outbox_types(runtime) == ["integration.crm.deal.won"]


async def test_two_concurrent_identical_posts_store_one_event(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm")
    body = event_body("deal.won", "evt_race")
    for _ in range(3):
        responses = await asyncio.gather(*(post_signed(client, "crm", body) for _ in range(4)))
        assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    await runtime.run_pending_jobs()
    assert len(await stored_events(runtime)) == 1
    assert await outbox_types(runtime) == ["integration.crm.deal.won"]


async def test_an_address_outside_the_allow_list_is_refused(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    # The test client calls from 203.0.113.7.
    provider = await create_provider(client, admin, name="crm", allowed_ips=["10.0.0.0/8"])
    refused = await post_signed(client, "crm", event_body("x", "evt_ip"))
    assert_envelope(refused, 401, "UNAUTHORIZED")
    assert await stored_events(runtime) == []
    await client.patch(
        f"/api/v1/integrations/providers/{provider['id']}",
        json={"allowed_ips": ["10.0.0.0/8", "203.0.113.0/24"]},
        headers=admin.headers,
    )
    assert (await post_signed(client, "crm", event_body("x", "evt_ip"))).status_code == 202


async def test_a_timestamp_is_signed_with_the_body_and_must_be_recent(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime, clock: FrozenClock
) -> None:
    await create_provider(client, admin, name="crm")
    now = int(clock.now().timestamp())
    fresh = await post_signed(client, "crm", event_body("x", "evt_t1"), timestamp=str(now - 120))
    assert fresh.status_code == 202, fresh.text
    # The body's signature alone does not do once a timestamp is sent: it must be signed.
    body = event_body("x", "evt_t2")
    unsigned_ts = await post_signed(
        client, "crm", body, timestamp=str(now), signature=sign(SECRET, body)
    )
    assert_envelope(unsigned_ts, 401, "UNAUTHORIZED")
    # Captured and replayed six minutes later.
    body = event_body("x", "evt_t3")
    stamp = str(now)
    clock.advance(timedelta(minutes=6))
    stale = await post_signed(client, "crm", body, timestamp=stamp)
    assert_envelope(stale, 401, "UNAUTHORIZED")
    assert_envelope(
        await post_signed(client, "crm", event_body("x"), timestamp="yesterday"),
        401,
        "UNAUTHORIZED",
    )
    assert [e.event_id for e in await stored_events(runtime)] == ["evt_t1"]


async def test_malformed_bodies_are_422_after_the_signature(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm")
    for body in (
        b"not json",
        b"[1, 2]",
        json.dumps({"event_type": "x"}).encode(),
        json.dumps({"event_id": "e", "event_type": ""}).encode(),
        json.dumps({"event_id": "e" * 300, "event_type": "x"}).encode(),
        b'{"event_id": "e", "event_type": "x", "data": {"amount": NaN}}',
        b'{"event_id": "e", "event_type": "x", "data": "\\u0000"}',
    ):
        assert_envelope(await post_signed(client, "crm", body), 422, "VALIDATION_ERROR")
    assert await stored_events(runtime) == []


async def test_the_provider_rate_limit(
    client: httpx.AsyncClient, admin: LoggedIn, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm", rate_limit="2/minute")
    assert (await post_signed(client, "crm", event_body("x"))).status_code == 202
    assert (await post_signed(client, "crm", event_body("x"))).status_code == 202
    limited = await post_signed(client, "crm", event_body("x"))
    assert_envelope(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert int(limited.headers["Retry-After"]) >= 1
    async with runtime.db.sessionmaker() as session:
        assert (await session.execute(select(func.count(InboundEvent.id)))).scalar_one() == 2


async def test_through_a_real_server(
    live_server: str, admin: LoggedIn, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_provider(client, admin, name="crm")
    body = event_body("deal.won", "evt_live")
    async with httpx.AsyncClient(base_url=live_server) as real:
        accepted = await post_signed(real, "crm", body)
        repeated = await post_signed(real, "crm", body)
        forged = await post_signed(real, "crm", body, secret="wrong-secret-0123456789")
    assert (accepted.status_code, repeated.status_code) == (202, 200)
    assert_envelope(forged, 401, "UNAUTHORIZED")
    await runtime.run_pending_jobs()
    assert [e.status for e in await stored_events(runtime)] == ["processed"]
