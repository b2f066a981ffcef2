"""From the outbox to the endpoints: fan-out, delivery attempts, retries.

- Recording an event (``events.service.emit``) defers :data:`FAN_OUT_TASK` in the same
  transaction when any endpoint is active (else the event is marked published at once).
- The fan-out makes one delivery per endpoint that subscribes to the event's type and whose
  owner may read it (webhooks/visibility.py) and marks the event published, in one
  transaction; the same job then makes the first attempts. Retries, replays, pings and
  manual retries go through :data:`DELIVER_TASK`, one job per delivery.
- A delivery attempt holds the delivery's row lock for the length of the HTTP exchange:
  the lock is the lease. A worker killed mid-attempt drops its connection, the lock goes
  with it, and the next sweep (:data:`SWEEP_TASK`, every second) or the stalled-job retry
  sends the delivery again: at least once, never lost.
- Retry times follow webhooks/schedule.py on the injected clock: a failed attempt sets
  ``next_attempt_at``; the sweep defers the deliveries that are due.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from saas_server.core import clock
from saas_server.core.jobs import defer
from saas_server.core.outbound import UnsafeURL, post_pinned, resolve
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.mail.service import Mail, queue_mail
from saas_server.users.models import User
from saas_server.webhooks.models import (
    DeliveryOrigin,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from saas_server.webhooks.schedule import THROTTLED, delay_after, parse_retry_after
from saas_server.webhooks.signing import signed_headers
from saas_server.webhooks.visibility import Reader, reader_of

logger = logging.getLogger(__name__)

FAN_OUT_TASK = "webhooks.fan_out"
DELIVER_TASK = "webhooks.deliver"
SWEEP_TASK = "webhooks.sweep"
QUEUE = "webhooks"
# A delivery never attempted this long after its creation lost its job: the sweep queues it.
FIRST_ATTEMPT_GRACE = timedelta(seconds=10)
# How many rows one sweep takes at most (the next sweep takes the rest).
SWEEP_BATCH = 500


def event_body(event: OutboxEvent) -> dict[str, Any]:
    """The body every endpoint receives: ``{"type", "timestamp", "data"}``."""
    return {"type": event.type, "timestamp": clock.isoformat(event.occurred_at), "data": event.data}


def ping_body(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "type": "ping",
        "timestamp": clock.isoformat(clock.now()),
        "data": {"endpoint_id": str(endpoint.id)},
    }


async def defer_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    # At most one waiting job per delivery, however many sweeps and retries ask.
    await defer(
        session,
        DELIVER_TASK,
        queue=QUEUE,
        queueing_lock=f"webhooks.deliver:{delivery_id}",
        delivery_id=str(delivery_id),
    )


# -- fan-out ----------------------------------------------------------------------------


async def on_event_recorded(session: AsyncSession, event: OutboxEvent) -> None:
    """Connected to ``events.service.event_recorded``: runs in the event's transaction."""
    any_endpoint = (
        await session.execute(
            select(exists().where(WebhookEndpoint.status == EndpointStatus.ACTIVE.value))
        )
    ).scalar_one()
    if not any_endpoint:
        # Nobody listens: nothing to relay, ever (a later endpoint does not get old events
        # except by an explicit replay).
        event.published_at = clock.now()
        return
    await defer(session, FAN_OUT_TASK, queue=QUEUE, event_id=str(event.id))


async def on_events_recorded(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Connected to ``events.service.events_recorded``: :func:`on_event_recorded` for a
    batch, with one look for an endpoint and one UPDATE when nobody listens."""
    any_endpoint = (
        await session.execute(
            select(exists().where(WebhookEndpoint.status == EndpointStatus.ACTIVE.value))
        )
    ).scalar_one()
    if not any_endpoint:
        now = clock.now()
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([event.id for event in events]))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )
        for event in events:
            set_committed_value(event, "published_at", now)
        return
    for event in events:
        await defer(session, FAN_OUT_TASK, queue=QUEUE, event_id=str(event.id))


def _subscribed(event: OutboxEvent) -> Any:
    return (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.status == EndpointStatus.ACTIVE.value,
            or_(
                WebhookEndpoint.event_types.contains([event.type]),
                WebhookEndpoint.event_types.contains(["*"]),
            ),
            or_(WebhookEndpoint.tenant_id.is_(None), WebhookEndpoint.tenant_id == event.tenant_id),
        )
        .order_by(WebhookEndpoint.created_at)
    )


class Readers:
    """Endpoint owners' reading rights, looked up once per fan-out."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._known: dict[uuid.UUID, Reader | None] = {}

    async def of(self, user_id: uuid.UUID) -> Reader | None:
        if user_id not in self._known:
            user = await self.session.get(User, user_id)
            self._known[user_id] = await reader_of(self.session, user) if user else None
        return self._known[user_id]


async def fan_out_event(
    session: AsyncSession, event: OutboxEvent, readers: Readers
) -> list[uuid.UUID]:
    """Deliveries of ``event`` (locked by the caller) to every endpoint that may have it;
    their ids. They are due at once: the caller attempts them after its commit, and the
    sweep sends whatever it did not (a crash between the two loses nothing)."""
    made: list[uuid.UUID] = []
    body = event_body(event)
    for endpoint in (await session.execute(_subscribed(event))).scalars():
        reader = await readers.of(endpoint.owner_id)
        if reader is None or not reader.can_read(event):
            continue
        delivery = WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            event_id=event.id,
            origin=DeliveryOrigin.EVENT.value,
            message_id=str(event.id),
            event_type=event.type,
            payload=body,
            status=DeliveryStatus.PENDING.value,
            attempt_count=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
        session.add(delivery)
        made.append(delivery.id)
    event.published_at = clock.now()
    await session.flush()
    return made


async def fan_out(
    runtime: Runtime,
    event_ids: list[uuid.UUID] | None = None,
    *,
    limit: int = SWEEP_BATCH,
    older_than: datetime | None = None,
) -> list[uuid.UUID]:
    """Fan out unpublished events, committed; the ids of the deliveries made.

    ``event_ids`` come first; with ``limit`` above their number, other unpublished events
    (oldest first) fill the batch: under a burst, one fan-out job claims the events whose
    own jobs are still queued, and those jobs then find nothing left to do. With no
    ``event_ids``, only events recorded before ``older_than`` (when given) are taken."""
    async with runtime.db.transaction() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        if event_ids is not None and limit <= len(event_ids):
            stmt = stmt.where(OutboxEvent.id.in_(event_ids)).order_by(OutboxEvent.seq)
        elif event_ids is not None:
            stmt = stmt.order_by(OutboxEvent.id.in_(event_ids).desc(), OutboxEvent.seq)
        else:
            stmt = stmt.order_by(OutboxEvent.seq)
            if older_than is not None:
                stmt = stmt.where(OutboxEvent.occurred_at <= older_than)
        # Locked rows are another worker's fan-out under way: skipped, not waited for.
        stmt = stmt.limit(limit).with_for_update(skip_locked=True)
        events = list((await session.execute(stmt)).scalars())
        readers = Readers(session)
        made: list[uuid.UUID] = []
        for event in events:
            made += await fan_out_event(session, event, readers)
        return made


# Events one fan-out job takes at most: its own, and others waiting for theirs.
FAN_OUT_BATCH = 20


async def fan_out_and_deliver(runtime: Runtime, event_ids: list[uuid.UUID]) -> None:
    """The fan-out job: the deliveries, committed, then their first attempts side by side
    in this job and one transaction (one queued job per event rather than one per delivery:
    the queue's per-job cost dominated the bench). It also claims other unpublished events
    (batch claim, up to :data:`FAN_OUT_BATCH`): under a burst most fan-out jobs then find
    their event done. Retries go through the sweep."""
    await deliver_many(runtime, await fan_out(runtime, event_ids, limit=FAN_OUT_BATCH))


# -- attempts ---------------------------------------------------------------------------

# One HTTP client per event loop (connections are reused across deliveries; a client may not
# cross loops, and tests run several).
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


# Exchanges in flight in one process, whatever the number of jobs running: the connection
# pool's size. An attempt waits for a free place *before* its timeout starts, so a burst
# queued behind others is not charged to the receiver as a timeout.
EXCHANGES_PER_PROCESS = 64
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=EXCHANGES_PER_PROCESS,
                max_keepalive_connections=EXCHANGES_PER_PROCESS,
            ),
            trust_env=False,
        )
        _clients[loop] = client
    return client


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(EXCHANGES_PER_PROCESS)
    return gate


def signing_secrets(runtime: Runtime, endpoint: WebhookEndpoint) -> list[str]:
    secrets = [runtime.secrets.decrypt(endpoint.secret_encrypted, _aad(endpoint.id))]
    if (
        endpoint.previous_secret_encrypted is not None
        and endpoint.previous_secret_expires_at is not None
        and clock.now() < endpoint.previous_secret_expires_at
    ):
        secrets.append(
            runtime.secrets.decrypt(endpoint.previous_secret_encrypted, _aad(endpoint.id))
        )
    return secrets


def _aad(endpoint_id: uuid.UUID) -> bytes:
    # Bound to its endpoint: a secret copied onto another row does not decrypt.
    return f"webhook-endpoint:{endpoint_id}".encode()


def seal_secret(runtime: Runtime, endpoint_id: uuid.UUID, secret: str) -> str:
    return runtime.secrets.encrypt(secret, _aad(endpoint_id))


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").replace("\x00", "")


@dataclass
class Exchange:
    """What one attempt's HTTP exchange gave: an answer, or an error (never both)."""

    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    duration_ms: int = 0


async def send(runtime: Runtime, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Exchange:
    """The HTTP exchange of one attempt (no database work: several run side by side)."""
    settings = runtime.settings
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    # The signature's timestamp is the wall-clock time of sending, not the scheduling
    # clock: receivers compare it with their own clocks (5 minutes' tolerance).
    headers = signed_headers(
        delivery.message_id, body, signing_secrets(runtime, endpoint), datetime.now(UTC)
    )
    exchange = Exchange()
    await _gate().acquire()
    started = time.perf_counter()
    try:
        target = await resolve(endpoint.url, allow_private=settings.webhooks_allow_private)
        response = await post_pinned(
            _client(),
            target,
            content=body,
            headers=headers,
            timeout_seconds=settings.webhooks_timeout_seconds,
            max_body=settings.webhooks_response_excerpt_bytes,
        )
        exchange.status_code = response.status_code
        exchange.excerpt = _excerpt(response.excerpt)
        if response.status_code in THROTTLED:
            exchange.retry_after = parse_retry_after(
                response.headers.get("retry-after"), datetime.now(UTC).timestamp()
            )
    except UnsafeURL as exc:
        exchange.error = f"refused: {exc.reason}"
    except TimeoutError:
        exchange.error = f"timed out after {settings.webhooks_timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        _gate().release()
    exchange.duration_ms = int((time.perf_counter() - started) * 1000)
    return exchange


def _succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def _finish(delivery: WebhookDelivery, status: DeliveryStatus, now: datetime) -> str:
    delivery.status = status.value
    delivery.next_attempt_at = None
    delivery.completed_at = now
    return delivery.status


async def record(
    runtime: Runtime,
    session: AsyncSession,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    exchange: Exchange,
    now: datetime,
) -> str:
    """The attempt's row and its consequences: success, the next retry, or giving up; the
    endpoint disabled on a 410 or after failing for days. Returns the delivery's status."""
    settings = runtime.settings
    status_code = exchange.status_code
    delivery.attempt_count += 1
    delivery.last_status_code = status_code
    attempt = WebhookAttempt(
        delivery_id=delivery.id,
        attempted_at=now,
        status_code=status_code,
        duration_ms=exchange.duration_ms,
        response_excerpt=exchange.excerpt,
        error=exchange.error,
    )
    session.add(attempt)
    is_test = delivery.origin == DeliveryOrigin.TEST.value
    if _succeeded(status_code):
        if endpoint.failing_since is not None and not is_test:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(failing_since=None)
                .execution_options(synchronize_session=False)
            )
        return _finish(delivery, DeliveryStatus.SUCCEEDED, now)
    if is_test:
        # A ping is one attempt; its failure says nothing about the endpoint's health.
        return _finish(delivery, DeliveryStatus.FAILED, now)
    # From here the endpoint's record may change: lock it, and read it again as it is now.
    await session.refresh(endpoint, with_for_update=True)
    if status_code == 410:
        # The receiver says it is gone for good.
        _finish(delivery, DeliveryStatus.FAILED, now)
        await disable_endpoint(runtime, session, endpoint, "The endpoint answered 410 Gone")
        return delivery.status
    delay = delay_after(delivery.attempt_count, exchange.retry_after)
    if delay is None:
        _finish(delivery, DeliveryStatus.FAILED, now)
    else:
        delivery.next_attempt_at = now + delay
        attempt.next_retry_at = delivery.next_attempt_at
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since >= timedelta(days=settings.webhooks_disable_after_days):
        await disable_endpoint(
            runtime,
            session,
            endpoint,
            f"Every delivery failed for {settings.webhooks_disable_after_days:g} days",
        )
    return delivery.status


# Attempts one job makes at once (a fan-out batch is FAN_OUT_BATCH events x endpoints).
ATTEMPTS_IN_FLIGHT = 32


async def deliver_many(runtime: Runtime, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """One attempt of each due delivery among ``delivery_ids``, the exchanges side by side,
    in one transaction whose row locks are the deliveries' leases (see the module's doc);
    the deliveries' statuses by id. Those not pending, not due, or under way in another
    worker are left alone."""
    if not delivery_ids:
        return {}
    async with runtime.db.transaction() as session:
        now = clock.now()
        deliveries = (
            (
                await session.execute(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.id.in_(delivery_ids),
                        WebhookDelivery.status == DeliveryStatus.PENDING.value,
                        or_(
                            WebhookDelivery.next_attempt_at.is_(None),
                            WebhookDelivery.next_attempt_at <= now,
                        ),
                    )
                    .order_by(WebhookDelivery.created_at)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not deliveries:
            return {}
        # Read without a lock: deliveries to one endpoint run side by side; the endpoint is
        # locked only when its failure record changes (``record``).
        endpoints = {
            e.id: e
            for e in (
                await session.execute(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.id.in_({d.endpoint_id for d in deliveries})
                    )
                )
            ).scalars()
        }
        outcome: dict[uuid.UUID, str] = {}
        sendable = []
        for delivery in deliveries:
            endpoint = endpoints[delivery.endpoint_id]
            if endpoint.status != EndpointStatus.ACTIVE.value and (
                delivery.origin != DeliveryOrigin.TEST.value
            ):
                outcome[delivery.id] = _finish(delivery, DeliveryStatus.FAILED, now)
            else:
                sendable.append(delivery)
        gate = asyncio.Semaphore(ATTEMPTS_IN_FLIGHT)

        async def exchange_of(delivery: WebhookDelivery) -> Exchange:
            async with gate:
                return await send(runtime, endpoints[delivery.endpoint_id], delivery)

        exchanges = await asyncio.gather(*(exchange_of(d) for d in sendable))
        # The endpoints whose record changes (a failure, or a success after failures), locked
        # at once in one order: two jobs recording for the same endpoints never deadlock.
        changing = sorted(
            {
                d.endpoint_id
                for d, x in zip(sendable, exchanges, strict=True)
                if d.origin != DeliveryOrigin.TEST.value
                and (
                    not _succeeded(x.status_code)
                    or endpoints[d.endpoint_id].failing_since is not None
                )
            }
        )
        if changing:
            await session.execute(
                select(WebhookEndpoint.id)
                .where(WebhookEndpoint.id.in_(changing))
                .order_by(WebhookEndpoint.id)
                .with_for_update()
            )
        for delivery, exchange in zip(sendable, exchanges, strict=True):
            endpoint = endpoints[delivery.endpoint_id]
            outcome[delivery.id] = await record(runtime, session, delivery, endpoint, exchange, now)
        return outcome


async def deliver(runtime: Runtime, delivery_id: uuid.UUID) -> str | None:
    """One attempt of a due delivery; its status after it, or None when it is not there,
    not pending, not due, or under way in another worker."""
    return (await deliver_many(runtime, [delivery_id])).get(delivery_id)


async def disable_endpoint(
    runtime: Runtime, session: AsyncSession, endpoint: WebhookEndpoint, reason: str
) -> None:
    """Disable ``endpoint``, fail its pending deliveries and mail its owner."""
    if endpoint.status == EndpointStatus.DISABLED.value:
        return
    endpoint.status = EndpointStatus.DISABLED.value
    endpoint.disabled_reason = reason[:200]
    pending = await session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
        )
    )
    for delivery in pending.scalars():
        delivery.status = DeliveryStatus.FAILED.value
        delivery.next_attempt_at = None
        delivery.completed_at = clock.now()
    owner = await session.get(User, endpoint.owner_id)
    if owner is not None:
        await queue_mail(
            session,
            runtime.secrets,
            Mail(
                to=owner.email,
                subject="A webhook endpoint was disabled",
                text=(
                    f"The webhook endpoint {endpoint.url} ({endpoint.id}) was disabled.\n\n"
                    f"Reason: {reason}.\n\nFix the receiver, then enable it again "
                    '(PATCH /api/v1/webhooks/endpoints/{id} with status "active") and '
                    "replay what it missed (POST .../replay).\n"
                ),
            ),
        )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


# -- the sweep ----------------------------------------------------------------------------


async def sweep(runtime: Runtime) -> int:
    """Fan out events left unpublished (a lost job) and queue the deliveries now due."""
    now = clock.now()
    # Only events their own fan-out job should have taken by now: a burst's events wait
    # for their jobs (which deliver in batches), rather than each delivery becoming a job.
    made = await fan_out(runtime, older_than=now - FIRST_ATTEMPT_GRACE)
    async with runtime.db.transaction() as session:
        for delivery_id in made:
            await defer_delivery(session, delivery_id)
        due = (
            await session.execute(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                    # A first attempt is its fan-out job's (or its own job's) to make: the
                    # sweep steps in only when that has not happened for a while (a lost job).
                    or_(
                        WebhookDelivery.attempt_count > 0,
                        WebhookDelivery.created_at <= now - FIRST_ATTEMPT_GRACE,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(SWEEP_BATCH)
                # Deliveries under way are locked by their worker: skipped, not waited for.
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        count = len(made)
        for delivery_id in due:
            await defer_delivery(session, delivery_id)
            count += 1
        return count
