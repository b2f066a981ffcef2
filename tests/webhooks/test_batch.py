"""A delivery batch as one set (decision 0029): one fan-out makes every delivery of several
events, the outcomes of different endpoints are written in one statement each without
mixing rows, and one endpoint never gets more than its share of exchanges at once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from saas_server.core.clock import FrozenClock
from saas_server.core.runtime import Runtime
from saas_server.events import service as events
from saas_server.events.models import OutboxEvent
from saas_server.webhooks import delivery as webhook_delivery
from saas_server.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.fixtures.auth import LoggedIn
from tests.fixtures.tenants import create_tenant
from tests.fixtures.webhook_receiver import running_receiver


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": True}


async def subscribe(
    client: httpx.AsyncClient, user: LoggedIn, url: str, tenant_id: str
) -> uuid.UUID:
    body = {"url": url, "events": ["*"], "tenant_id": tenant_id}
    response = await client.post("/api/v1/webhooks/endpoints", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def emit_many(runtime: Runtime, tenant_id: str, count: int) -> list[uuid.UUID]:
    async with runtime.db.transaction() as session:
        return [
            (
                await events.emit(
                    session, "tenant.updated", {"n": n}, tenant_id=uuid.UUID(tenant_id)
                )
            ).id
            for n in range(count)
        ]


async def test_one_batch_two_endpoints_each_row_its_own_outcome(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, clock: FrozenClock
) -> None:
    tenant = await create_tenant(client, owner, "batched")
    with running_receiver(default_status=500) as failing, running_receiver() as working:
        bad = await subscribe(client, owner, failing.url, tenant["id"])
        good = await subscribe(client, owner, working.url, tenant["id"])
        await runtime.run_pending_jobs()  # what creating the tenant queued
        failing.received.clear()
        working.received.clear()
        event_ids = await emit_many(runtime, tenant["id"], 6)
        now = clock.now()

        # One fan-out job claims all six events (its own and the others), makes twelve
        # deliveries and attempts them together.
        await webhook_delivery.fan_out_and_deliver(runtime, [event_ids[0]])
        assert sorted(r.headers["webhook-id"] for r in working.received) == sorted(
            map(str, event_ids)
        )
        assert len(failing.received) == 6

    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids))
            )
        ).scalars()
        by_endpoint: dict[uuid.UUID, list[WebhookDelivery]] = {}
        for row in rows:
            by_endpoint.setdefault(row.endpoint_id, []).append(row)
        assert {d.status for d in by_endpoint[good]} == {"succeeded"}
        assert all(d.last_status_code == 200 and d.completed_at == now for d in by_endpoint[good])
        assert all(d.next_attempt_at is None for d in by_endpoint[good])
        assert {d.status for d in by_endpoint[bad]} == {"pending"}
        assert all(d.last_status_code == 500 and d.completed_at is None for d in by_endpoint[bad])
        assert all(d.next_attempt_at == now + timedelta(seconds=5) for d in by_endpoint[bad])
        assert all(d.attempt_count == 1 for ds in by_endpoint.values() for d in ds)
        # One attempt row per delivery, with that delivery's own answer.
        attempts = (
            await session.execute(
                select(WebhookAttempt.delivery_id, WebhookAttempt.status_code).where(
                    WebhookAttempt.delivery_id.in_(
                        [d.id for ds in by_endpoint.values() for d in ds]
                    )
                )
            )
        ).all()
        codes = {d.id: d.last_status_code for ds in by_endpoint.values() for d in ds}
        assert len(attempts) == 12
        assert all(codes[delivery_id] == code for delivery_id, code in attempts)
        # Only the failing endpoint starts a failure record.
        endpoints = {
            e.id: e
            for e in (
                await session.execute(
                    select(WebhookEndpoint).where(WebhookEndpoint.id.in_([good, bad]))
                )
            ).scalars()
        }
        assert endpoints[bad].failing_since == now
        assert endpoints[good].failing_since is None
        published = (
            await session.execute(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.id.in_(event_ids), OutboxEvent.published_at.is_(None))
            )
        ).scalar_one()
        assert published == 0


async def test_one_endpoint_gets_a_bounded_number_of_exchanges_at_once(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, "bounded")
    hold = 0.3
    count = 2 * webhook_delivery.EXCHANGES_PER_ENDPOINT + 4
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        receiver.delays[:] = [hold] * count
        event_ids = await emit_many(runtime, tenant["id"], count)
        await webhook_delivery.fan_out_and_deliver(runtime, event_ids)
        arrivals = sorted(r.at for r in receiver.received)

    assert len(arrivals) == count
    # Each request is held `hold` seconds: those that arrived within `hold` of one another
    # were in flight together.
    at_once = max(sum(1 for b in arrivals if a <= b < a + hold) for a in arrivals)
    assert 2 <= at_once <= webhook_delivery.EXCHANGES_PER_ENDPOINT


async def test_the_sweep_leaves_queued_fan_outs_to_their_jobs_and_takes_lost_ones(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, clock: FrozenClock
) -> None:
    tenant = await create_tenant(client, owner, "swept")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        queued, lost = await emit_many(runtime, tenant["id"], 2)
        async with runtime.db.transaction() as session:
            await session.execute(
                text(
                    "DELETE FROM procrastinate_jobs WHERE task_name = :task"
                    " AND args->>'event_id' = :event_id"
                ),
                {"task": webhook_delivery.FAN_OUT_TASK, "event_id": str(lost)},
            )
        # Past the grace: the sweep fans out the event whose job is gone, not the one whose
        # job still waits in the queue (a burst's queue can be longer than the grace).
        clock.advance(seconds=webhook_delivery.FIRST_ATTEMPT_GRACE.total_seconds() + 1)
        await webhook_delivery.sweep(runtime)
        async with runtime.db.sessionmaker() as session:
            made = (
                await session.execute(
                    select(WebhookDelivery.event_id).where(
                        WebhookDelivery.event_id.in_([queued, lost])
                    )
                )
            ).scalars()
            assert list(made) == [lost]
        await runtime.run_pending_jobs()
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            [str(queued), str(lost)]
        )
