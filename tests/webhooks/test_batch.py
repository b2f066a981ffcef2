"""A delivery batch as one set (decision 0029): one fan-out makes every delivery of several
events, the outcomes of different endpoints are written in one statement each without
mixing rows, and one endpoint never gets more than its share of exchanges at once.
One fan-out job waits at most, joined by every event's transaction, and due retries go in
batches (decision 0037)."""

from __future__ import annotations

import asyncio
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

        # One fan-out job claims all six events, makes twelve deliveries and attempts them
        # together.
        assert await webhook_delivery.fan_out_and_deliver(runtime) == 6
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
        await emit_many(runtime, tenant["id"], count)
        await webhook_delivery.fan_out_and_deliver(runtime)
        arrivals = sorted(r.at for r in receiver.received)

    assert len(arrivals) == count
    # Each request is held `hold` seconds: those that arrived within `hold` of one another
    # were in flight together.
    at_once = max(sum(1 for b in arrivals if a <= b < a + hold) for a in arrivals)
    assert 2 <= at_once <= webhook_delivery.EXCHANGES_PER_ENDPOINT


async def jobs_waiting(runtime: Runtime, task_name: str) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs"
                        " WHERE task_name = :task AND status = 'todo'"
                    ),
                    {"task": task_name},
                )
            ).scalar_one()
        )


async def test_the_sweep_asks_for_a_fan_out_when_an_event_lost_its_job(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, clock: FrozenClock
) -> None:
    tenant = await create_tenant(client, owner, "swept")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        [lost] = await emit_many(runtime, tenant["id"], 1)
        async with runtime.db.transaction() as session:
            await session.execute(
                text("DELETE FROM procrastinate_jobs WHERE task_name = :task"),
                {"task": webhook_delivery.FAN_OUT_TASK},
            )
        # Within the grace the event is its job's; past it, the sweep asks for a fan-out job.
        assert await webhook_delivery.sweep(runtime) == 0
        assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 0
        clock.advance(seconds=webhook_delivery.FIRST_ATTEMPT_GRACE.total_seconds() + 1)
        assert await webhook_delivery.sweep(runtime) == 1
        assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 1
        await runtime.run_pending_jobs()
        assert [r.headers["webhook-id"] for r in receiver.received] == [str(lost)]


async def test_a_steady_flow_queues_one_fan_out_job_for_all_its_events(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    tenant = await create_tenant(client, owner, "steady")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        # Five transactions, one event each, while no worker runs: one job waits for all.
        event_ids = [
            event_id for _ in range(5) for event_id in await emit_many(runtime, tenant["id"], 1)
        ]
        assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 1
        await runtime.run_pending_jobs()
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            map(str, event_ids)
        )


async def test_the_waiting_fan_out_job_waits_for_the_events_that_joined_it(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    """An event's transaction that finds a fan-out job waiting joins it: were the job to
    look for events before that transaction commits, it would miss the event and nobody
    would fan it out until the sweep's grace."""
    tenant = await create_tenant(client, owner, "joined")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        [first] = await emit_many(runtime, tenant["id"], 1)
        async with runtime.db.transaction() as session:
            second = await events.emit(
                session, "tenant.updated", {"n": 2}, tenant_id=uuid.UUID(tenant["id"])
            )
            assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 1
            # A worker takes the job, which waits for this transaction.
            running = asyncio.create_task(runtime.run_pending_jobs())
            await asyncio.sleep(1.5)
            assert not running.done()
            assert receiver.received == []
        await asyncio.wait_for(running, timeout=30)
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            [str(first), str(second.id)]
        )


async def test_a_savepoint_rolled_back_takes_its_fan_out_job_with_it(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    """A transaction asks for the fan-out job once; an event recorded after a rolled-back
    savepoint that had asked still gets a job."""
    tenant = await create_tenant(client, owner, "savepoint")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        async with runtime.db.transaction() as session:
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    await events.emit(
                        session, "tenant.updated", {"n": 0}, tenant_id=uuid.UUID(tenant["id"])
                    )
                    raise RuntimeError("undone")
            kept = await events.emit(
                session, "tenant.updated", {"n": 1}, tenant_id=uuid.UUID(tenant["id"])
            )
        assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 1
        await runtime.run_pending_jobs()
        assert [r.headers["webhook-id"] for r in receiver.received] == [str(kept.id)]


async def test_an_event_does_not_wait_for_another_transaction_adding_the_fan_out_job(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn
) -> None:
    """Two open transactions record events while no fan-out job waits: the second does not
    wait for the first to commit (its own job, without the queueing lock, instead)."""
    tenant = await create_tenant(client, owner, "concurrent")
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()
        receiver.received.clear()
        async with runtime.db.transaction() as first:
            one = await events.emit(
                first, "tenant.updated", {"n": 1}, tenant_id=uuid.UUID(tenant["id"])
            )
            two = await asyncio.wait_for(emit_many(runtime, tenant["id"], 1), timeout=10)
        assert await jobs_waiting(runtime, webhook_delivery.FAN_OUT_TASK) == 2
        await runtime.run_pending_jobs()
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            [str(one.id), str(two[0])]
        )


async def test_due_retries_go_in_batches_through_one_job(
    client: httpx.AsyncClient, runtime: Runtime, owner: LoggedIn, clock: FrozenClock
) -> None:
    """A receiver down for a burst, then back: the sweep asks for one due-deliveries job
    (no job per delivery), which sends every retry, each batch claimed like first attempts."""
    tenant = await create_tenant(client, owner, "outage")
    count = webhook_delivery.DUE_BATCH + 5
    with running_receiver() as receiver:
        await subscribe(client, owner, receiver.url, tenant["id"])
        await runtime.run_pending_jobs()  # what creating the tenant queued
        receiver.received.clear()
        receiver.default_status = 503
        event_ids = await emit_many(runtime, tenant["id"], count)
        await runtime.run_pending_jobs()
        assert len(receiver.received) == count
        receiver.received.clear()
        receiver.default_status = 200
        clock.advance(seconds=5)
        assert await webhook_delivery.sweep(runtime) == 1
        assert await jobs_waiting(runtime, webhook_delivery.DELIVER_DUE_TASK) == 1
        assert await jobs_waiting(runtime, webhook_delivery.DELIVER_TASK) == 0
        # One job takes the whole backlog, a batch at a time; its full batch asked for
        # another job to share it (here the one the sweep queued: joined, not a second).
        assert await webhook_delivery.deliver_due(runtime) == count
        assert await jobs_waiting(runtime, webhook_delivery.DELIVER_DUE_TASK) == 1
        await runtime.run_pending_jobs()
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
            map(str, event_ids)
        )
    async with runtime.db.sessionmaker() as session:
        statuses = (
            await session.execute(
                select(WebhookDelivery.status, WebhookDelivery.attempt_count).where(
                    WebhookDelivery.event_id.in_(event_ids)
                )
            )
        ).all()
        assert set(statuses) == {("succeeded", 2)}
        attempts = (
            await session.execute(
                select(func.count())
                .select_from(WebhookAttempt)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                .where(WebhookDelivery.event_id.in_(event_ids))
            )
        ).scalar_one()
        assert attempts == 2 * count
