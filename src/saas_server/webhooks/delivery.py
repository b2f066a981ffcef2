"""From the outbox to the endpoints: fan-out, delivery attempts, retries.

- Recording an event (``events.service.emit``) makes sure, in the same transaction, that a
  :data:`FAN_OUT_TASK` job waits to run after it commits, when any endpoint is active (else
  the event is marked published at once). One such job waits at most, under a queueing
  lock (decision 0037): a steady flow joins the waiting job instead of queueing one each.
- The fan-out job takes every waiting event, :data:`FAN_OUT_BATCH` at a time, oldest first:
  one delivery per endpoint that subscribes to the event's type and whose owner may read it
  (webhooks/visibility.py), the events marked published, in one transaction; the same job
  then makes those deliveries' first attempts, and goes on with the next batch.
- Retries (and replays) are due deliveries: the sweep (:data:`SWEEP_TASK`, every second)
  makes sure a :data:`DELIVER_DUE_TASK` job waits when some are due, and that job attempts
  them :data:`DUE_BATCH` at a time. Pings and manual retries go through
  :data:`DELIVER_TASK`, one job per delivery (they are sent at once).
- A delivery attempt holds the delivery's row lock for the length of the HTTP exchange:
  the lock is the lease. A worker killed mid-attempt drops its connection, the lock goes
  with it, and the delivery is due again for the next batch job the sweep asks for (or its
  own job is put back in the queue when found stalled): at least once, never lost.
- Retry times follow webhooks/schedule.py on the injected clock: a failed attempt sets
  ``next_attempt_at``.
- The database work is set-based (decision 0029): a fan-out or a delivery batch is a fixed
  number of statements, whatever its size; the HTTP exchanges share one client per process
  behind a gate per process and per endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import (
    ColumnElement,
    and_,
    cast,
    column,
    exists,
    insert,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from saas_server.core import clock
from saas_server.core.jobs import defer, defer_joining, wait_for_joiners
from saas_server.core.outbound import Target, UnsafeURL, post_pinned, resolve
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
from saas_server.webhooks.signing import signed_headers_by, signers
from saas_server.webhooks.visibility import Reader, can_read, reader_of

logger = logging.getLogger(__name__)

# A result row of named columns (a claimed delivery, an endpoint, an event): attributes only.
_Row = Any

FAN_OUT_TASK = "webhooks.fan_out"
DELIVER_DUE_TASK = "webhooks.deliver_due"
DELIVER_TASK = "webhooks.deliver"
SWEEP_TASK = "webhooks.sweep"
QUEUE = "webhooks"
# An event unpublished, or a delivery never attempted, this long after it was made lost its
# job (a worker died with it): the sweep asks for a batch job, which takes it.
FIRST_ATTEMPT_GRACE = timedelta(seconds=10)


class EventRow(Protocol):
    type: str
    occurred_at: datetime
    data: dict[str, Any]


def event_body(event: EventRow | OutboxEvent) -> dict[str, Any]:
    """The body every endpoint receives: ``{"type", "timestamp", "data"}``."""
    return {"type": event.type, "timestamp": clock.isoformat(event.occurred_at), "data": event.data}


def ping_body(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "type": "ping",
        "timestamp": clock.isoformat(clock.now()),
        "data": {"endpoint_id": str(endpoint.id)},
    }


async def defer_fan_out(session: AsyncSession) -> None:
    """A fan-out job looks for events after this transaction commits (one waits at most)."""
    await defer_joining(session, FAN_OUT_TASK, queue=QUEUE, queueing_lock=FAN_OUT_TASK)


async def defer_deliver_due(session: AsyncSession) -> None:
    """A due-deliveries job looks for due deliveries after this transaction commits (one
    waits at most)."""
    await defer_joining(session, DELIVER_DUE_TASK, queue=QUEUE, queueing_lock=DELIVER_DUE_TASK)


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
    await defer_fan_out(session)


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
    await defer_fan_out(session)


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


_EVENT_COLUMNS = (
    OutboxEvent.id,
    OutboxEvent.type,
    OutboxEvent.tenant_id,
    OutboxEvent.user_id,
    OutboxEvent.data,
    OutboxEvent.occurred_at,
)


async def fan_out(runtime: Runtime, *, limit: int) -> tuple[int, list[uuid.UUID]]:
    """Fan out up to ``limit`` waiting events, oldest first, committed: how many were
    taken, and the ids of the deliveries made. A full batch asks for another fan-out job
    (in the same transaction), so a backlog spreads over every worker free to take one.

    Set-based: one statement claims the events, one reads the endpoints that may want any
    of them, one inserts every delivery, one marks the events published."""
    async with runtime.db.transaction() as session:
        stmt = (
            select(*_EVENT_COLUMNS)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.seq)
            .limit(limit)
            # Locked rows are another worker's fan-out under way: skipped, not waited for.
            .with_for_update(skip_locked=True)
        )
        events = (await session.execute(stmt)).all()
        if not events:
            return 0, []
        now = clock.now()
        rows = await _deliveries_of(session, events, now)
        if rows:
            await session.execute(insert(WebhookDelivery), rows)
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([e.id for e in events]))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )
        if len(events) == limit:
            await defer_fan_out(session)
        return len(events), [row["id"] for row in rows]


async def _deliveries_of(
    session: AsyncSession, events: Sequence[_Row], now: datetime
) -> list[dict[str, Any]]:
    """The delivery rows of ``events``: one per endpoint that subscribes to an event's type
    and whose owner may read it (webhooks/visibility.py), in the events' order, then the
    endpoints' (creation) order."""
    types = sorted({e.type for e in events})
    tenants = {e.tenant_id for e in events if e.tenant_id is not None}
    endpoints = (
        await session.execute(
            select(
                WebhookEndpoint.id,
                WebhookEndpoint.owner_id,
                WebhookEndpoint.tenant_id,
                WebhookEndpoint.event_types,
            )
            .where(
                WebhookEndpoint.status == EndpointStatus.ACTIVE.value,
                or_(*(WebhookEndpoint.event_types.contains([t]) for t in [*types, "*"])),
                or_(
                    WebhookEndpoint.tenant_id.is_(None),
                    WebhookEndpoint.tenant_id.in_(tenants),
                ),
            )
            .order_by(WebhookEndpoint.created_at)
        )
    ).all()
    readers = Readers(session)
    owners = {e.owner_id: await readers.of(e.owner_id) for e in endpoints}
    rows: list[dict[str, Any]] = []
    for event in events:
        body = event_body(event)
        for endpoint in endpoints:
            reader = owners[endpoint.owner_id]
            if (
                reader is None
                or (endpoint.tenant_id is not None and endpoint.tenant_id != event.tenant_id)
                or ("*" not in endpoint.event_types and event.type not in endpoint.event_types)
                or not can_read(reader, event.tenant_id, event.user_id)
            ):
                continue
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "origin": DeliveryOrigin.EVENT.value,
                    "message_id": str(event.id),
                    "event_type": event.type,
                    "payload": body,
                    "status": DeliveryStatus.PENDING.value,
                    "attempt_count": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    return rows


# Events one fan-out batch takes at most (a burst spreads over every worker instead of one
# taking thousands of deliveries at once: decision 0029).
FAN_OUT_BATCH = 20


async def fan_out_and_deliver(runtime: Runtime, job_id: int | None = None) -> int:
    """The fan-out job (``job_id``: its procrastinate job's): every waiting event, a batch
    at a time: the batch's deliveries, committed, then their first attempts side by side in
    this job and one transaction; then the next batch, until none waits. How many events it
    took."""
    await _wait_for_joiners(runtime, job_id)
    taken = 0
    while True:
        count, made = await fan_out(runtime, limit=FAN_OUT_BATCH)
        if not count:
            return taken
        taken += count
        await deliver_many(runtime, made)


# -- attempts ---------------------------------------------------------------------------


# Exchanges in flight in one process, whatever the number of jobs running: the connection
# pool's size. An attempt waits for a free place *before* its timeout starts, so a burst
# queued behind others is not charged to the receiver as a timeout. More is slower, not
# faster: one process posting to loopback receivers made 452/s with 32 in flight, 201/s
# with 64 and 117/s with 128 (decision 0029).
EXCHANGES_PER_PROCESS = 32
# Exchanges in flight to one endpoint from one process: a burst to one receiver does not
# take every connection, and one slow receiver does not hold up the others.
EXCHANGES_PER_ENDPOINT = 8


class _Gates:
    """One process's (one event loop's) HTTP client and its limits: the overall gate and a
    gate per endpoint, kept while some exchange uses it."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=EXCHANGES_PER_PROCESS,
                max_keepalive_connections=EXCHANGES_PER_PROCESS,
            ),
            trust_env=False,
        )
        self.overall = asyncio.Semaphore(EXCHANGES_PER_PROCESS)
        self._endpoints: dict[uuid.UUID, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def place(self, endpoint_id: uuid.UUID) -> AsyncIterator[None]:
        gate, users = self._endpoints.get(endpoint_id, (None, 0))
        if gate is None:
            gate = asyncio.Semaphore(EXCHANGES_PER_ENDPOINT)
        self._endpoints[endpoint_id] = (gate, users + 1)
        try:
            async with gate, self.overall:
                yield
        finally:
            gate, users = self._endpoints[endpoint_id]
            if users == 1:
                del self._endpoints[endpoint_id]
            else:
                self._endpoints[endpoint_id] = (gate, users - 1)


# One per event loop (connections are reused across deliveries; a client may not cross
# loops, and tests run several).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gates] = weakref.WeakKeyDictionary()


def _gates_of_loop() -> _Gates:
    loop = asyncio.get_running_loop()
    gates = _gates.get(loop)
    if gates is None or gates.client.is_closed:
        gates = _gates[loop] = _Gates()
    return gates


def signing_secrets(runtime: Runtime, endpoint: EndpointRow) -> list[str]:
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


_ENDPOINT_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.owner_id,
    WebhookEndpoint.url,
    WebhookEndpoint.status,
    WebhookEndpoint.failing_since,
    WebhookEndpoint.secret_encrypted,
    WebhookEndpoint.previous_secret_encrypted,
    WebhookEndpoint.previous_secret_expires_at,
)


class EndpointRow(Protocol):
    id: uuid.UUID
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None


class _Target:
    """One endpoint as a batch sends to it: the secrets decrypted and the URL resolved once
    per batch (the SSRF check runs at every delivery round, and each exchange connects to
    the address that was checked)."""

    def __init__(self, runtime: Runtime, endpoint: _Row) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.signers = signers(signing_secrets(runtime, endpoint))
        self._target: asyncio.Future[Target] | None = None

    async def target(self) -> Target:
        if self._target is None:
            self._target = asyncio.ensure_future(
                resolve(
                    self.endpoint.url, allow_private=self.runtime.settings.webhooks_allow_private
                )
            )
        return await asyncio.shield(self._target)


async def send(target: _Target, message_id: str, payload: dict[str, Any]) -> Exchange:
    """The HTTP exchange of one attempt (no database work: several run side by side)."""
    settings = target.runtime.settings
    body = json.dumps(payload, separators=(",", ":")).encode()
    # The signature's timestamp is the wall-clock time of sending, not the scheduling
    # clock: receivers compare it with their own clocks (5 minutes' tolerance).
    headers = signed_headers_by(message_id, body, target.signers, datetime.now(UTC))
    exchange = Exchange()
    gates = _gates_of_loop()
    async with gates.place(target.endpoint.id):
        started = time.perf_counter()
        try:
            response = await post_pinned(
                gates.client,
                await target.target(),
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
        exchange.duration_ms = int((time.perf_counter() - started) * 1000)
    return exchange


def _succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


@dataclass
class _Outcome:
    """A delivery after one attempt: the values its row takes, and its attempt's row."""

    id: uuid.UUID
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    completed_at: datetime | None
    attempt: dict[str, Any] | None = None


def _outcome(claimed: _Row, exchange: Exchange, now: datetime) -> _Outcome:
    """What an attempt's exchange makes of its delivery, on the retry schedule."""
    count = claimed.attempt_count + 1
    status_code = exchange.status_code
    outcome = _Outcome(
        id=claimed.id,
        status=DeliveryStatus.PENDING.value,
        attempt_count=count,
        next_attempt_at=None,
        last_status_code=status_code,
        completed_at=None,
    )
    if _succeeded(status_code):
        outcome.status, outcome.completed_at = DeliveryStatus.SUCCEEDED.value, now
    elif claimed.origin == DeliveryOrigin.TEST.value or status_code == 410:
        # A ping is one attempt; a 410 says the receiver is gone for good.
        outcome.status, outcome.completed_at = DeliveryStatus.FAILED.value, now
    else:
        delay = delay_after(count, exchange.retry_after)
        if delay is None:
            outcome.status, outcome.completed_at = DeliveryStatus.FAILED.value, now
        else:
            outcome.next_attempt_at = now + delay
    outcome.attempt = {
        "id": uuid.uuid4(),
        "delivery_id": claimed.id,
        "attempted_at": now,
        "status_code": status_code,
        "duration_ms": exchange.duration_ms,
        "response_excerpt": exchange.excerpt,
        "error": exchange.error,
        "next_retry_at": outcome.next_attempt_at,
    }
    return outcome


_OUTCOME_COLUMNS = (
    ("id", WebhookDelivery.id),
    ("status", WebhookDelivery.status),
    ("attempt_count", WebhookDelivery.attempt_count),
    ("next_attempt_at", WebhookDelivery.next_attempt_at),
    ("last_status_code", WebhookDelivery.last_status_code),
    ("completed_at", WebhookDelivery.completed_at),
)


async def _write(session: AsyncSession, outcomes: list[_Outcome]) -> None:
    """Every outcome in two statements: the attempts' rows in one INSERT, the deliveries'
    new state in one ``UPDATE ... FROM (VALUES ...)``."""
    if not outcomes:
        return
    attempts = [o.attempt for o in outcomes if o.attempt is not None]
    if attempts:
        await session.execute(insert(WebhookAttempt), attempts)
    given = values(
        *(column(name, attr.type) for name, attr in _OUTCOME_COLUMNS), name="outcome"
    ).data([tuple(getattr(o, name) for name, _ in _OUTCOME_COLUMNS) for o in outcomes])
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == given.c.id)
        .values(
            {
                attr: cast(given.c[name], attr.type)
                for name, attr in _OUTCOME_COLUMNS
                if name != "id"
            }
        )
        .execution_options(synchronize_session=False)
    )


async def _record_endpoints(
    runtime: Runtime,
    session: AsyncSession,
    claimed: Sequence[_Row],
    outcomes: list[_Outcome],
    endpoints: dict[uuid.UUID, _Row],
    now: datetime,
) -> None:
    """The endpoints' failure record after a batch: a success clears it; a failure starts
    it (or disables the endpoint when it has failed for days); a 410 disables at once.
    Pings say nothing about an endpoint's health."""
    succeeded: set[uuid.UUID] = set()
    failed: set[uuid.UUID] = set()
    gone: set[uuid.UUID] = set()
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        if delivery.origin == DeliveryOrigin.TEST.value:
            continue
        if outcome.status == DeliveryStatus.SUCCEEDED.value:
            succeeded.add(delivery.endpoint_id)
        else:
            failed.add(delivery.endpoint_id)
            if outcome.last_status_code == 410:
                gone.add(delivery.endpoint_id)
    changing = sorted(failed | {e for e in succeeded if endpoints[e].failing_since is not None})
    if not changing:
        return
    # Locked at once in one order (two jobs recording for the same endpoints never
    # deadlock), and read again as they are now.
    locked = {
        e.id: e
        for e in (
            await session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(changing))
                .order_by(WebhookEndpoint.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    limit = timedelta(days=runtime.settings.webhooks_disable_after_days)
    for endpoint_id in changing:
        endpoint = locked.get(endpoint_id)
        if endpoint is None:
            continue
        if endpoint_id in gone:
            await disable_endpoint(runtime, session, endpoint, "The endpoint answered 410 Gone")
        elif endpoint_id in succeeded:
            # A success in the batch: the endpoint is alive.
            endpoint.failing_since = None
        else:
            endpoint.failing_since = endpoint.failing_since or now
            if now - endpoint.failing_since >= limit:
                await disable_endpoint(
                    runtime,
                    session,
                    endpoint,
                    "Every delivery failed for "
                    f"{runtime.settings.webhooks_disable_after_days:g} days",
                )
    await session.flush()


# Attempts one job makes at once (a fan-out batch is FAN_OUT_BATCH events x endpoints).
ATTEMPTS_IN_FLIGHT = 32
# Due deliveries (retries, replays, lost first attempts) one batch takes at most.
DUE_BATCH = 100

_CLAIMED_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.endpoint_id,
    WebhookDelivery.origin,
    WebhookDelivery.message_id,
    WebhookDelivery.payload,
    WebhookDelivery.attempt_count,
)


def _due(now: datetime) -> ColumnElement[bool]:
    """Deliveries whose next attempt is due now and is a batch job's to make."""
    return and_(
        WebhookDelivery.status == DeliveryStatus.PENDING.value,
        WebhookDelivery.next_attempt_at <= now,
        # An event's first attempt is its fan-out job's to make: a batch job steps in only
        # when that has not happened for a while (a lost job).
        or_(
            WebhookDelivery.attempt_count > 0,
            WebhookDelivery.origin != DeliveryOrigin.EVENT.value,
            WebhookDelivery.created_at <= now - FIRST_ATTEMPT_GRACE,
        ),
    )


async def deliver_many(runtime: Runtime, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """One attempt of each due delivery among ``delivery_ids``, the exchanges side by side,
    in one transaction whose row locks are the deliveries' leases (see the module's doc);
    the deliveries' statuses by id. Those not pending, not due, or under way in another
    worker are left alone."""
    if not delivery_ids:
        return {}
    async with runtime.db.transaction() as session:
        now = clock.now()
        claimed = (
            await session.execute(
                select(*_CLAIMED_COLUMNS)
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
        ).all()
        return await _attempt(runtime, session, claimed, now)


async def _wait_for_joiners(runtime: Runtime, job_id: int | None) -> None:
    # The events' (or replays') transactions that joined this job while it waited may
    # still be open: their work is this job's to take (core.jobs.defer_joining).
    if job_id is not None:
        async with runtime.db.transaction() as session:
            await wait_for_joiners(session, job_id)


async def deliver_due(runtime: Runtime, job_id: int | None = None) -> int:
    """The due-deliveries job: every due delivery (:func:`_due`), :data:`DUE_BATCH` at a
    time, soonest due first, each batch claimed ``FOR UPDATE SKIP LOCKED`` (never one
    another worker is attempting) and attempted like a fan-out's first attempts; until none
    is due. A full batch asks for another such job, so a backlog (a receiver back after an
    outage) spreads over the workers free to take one. How many it attempted."""
    await _wait_for_joiners(runtime, job_id)
    attempted = 0
    while True:
        async with runtime.db.transaction() as session:
            now = clock.now()
            claimed = (
                await session.execute(
                    select(*_CLAIMED_COLUMNS)
                    .where(_due(now))
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(DUE_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not claimed:
                return attempted
            await _attempt(runtime, session, claimed, now)
            if len(claimed) == DUE_BATCH:
                # Here, after the exchanges: the job asked for waits (held) until this
                # transaction commits, which is now.
                await defer_deliver_due(session)
        attempted += len(claimed)


async def _attempt(
    runtime: Runtime, session: AsyncSession, claimed: Sequence[_Row], now: datetime
) -> dict[uuid.UUID, str]:
    """One attempt of each ``claimed`` delivery (locked by ``session``), the exchanges side
    by side; the deliveries' statuses by id.

    The database work is a fixed number of statements per batch, whatever its size: the
    claim (the caller's), one reads the endpoints, one inserts the attempts, one updates
    the deliveries (plus the endpoints' failure record when it changes)."""
    if not claimed:
        return {}
    # Read without a lock: deliveries to one endpoint run side by side; the endpoints
    # are locked only when their failure record changes (``_record_endpoints``).
    endpoints = {
        e.id: e
        for e in (
            await session.execute(
                select(*_ENDPOINT_COLUMNS).where(
                    WebhookEndpoint.id.in_({d.endpoint_id for d in claimed})
                )
            )
        ).all()
    }
    targets: dict[uuid.UUID, _Target] = {}
    sendable: list[_Row] = []
    outcomes: dict[uuid.UUID, _Outcome] = {}
    for delivery in claimed:
        endpoint = endpoints[delivery.endpoint_id]
        if endpoint.status != EndpointStatus.ACTIVE.value and (
            delivery.origin != DeliveryOrigin.TEST.value
        ):
            outcomes[delivery.id] = _Outcome(
                id=delivery.id,
                status=DeliveryStatus.FAILED.value,
                attempt_count=delivery.attempt_count,
                next_attempt_at=None,
                last_status_code=None,
                completed_at=now,
            )
            continue
        if endpoint.id not in targets:
            targets[endpoint.id] = _Target(runtime, endpoint)
        sendable.append(delivery)
    gate = asyncio.Semaphore(ATTEMPTS_IN_FLIGHT)

    async def exchange_of(delivery: _Row) -> Exchange:
        async with gate:
            return await send(targets[delivery.endpoint_id], delivery.message_id, delivery.payload)

    exchanges = await asyncio.gather(*(exchange_of(d) for d in sendable))
    sent = [_outcome(d, x, now) for d, x in zip(sendable, exchanges, strict=True)]
    outcomes.update((o.id, o) for o in sent)
    await _write(session, list(outcomes.values()))
    await _record_endpoints(runtime, session, sendable, sent, endpoints, now)
    return {delivery_id: o.status for delivery_id, o in outcomes.items()}


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
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, completed_at=clock.now())
        .execution_options(synchronize_session=False)
    )
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
    """Ask for the batch jobs that have work: a fan-out job when an event has waited past
    the grace (its job was lost with a worker), a due-deliveries job when a delivery is
    due; a waiting one is joined. How many were asked for."""
    now = clock.now()
    async with runtime.db.transaction() as session:
        lost = (
            await session.execute(
                select(
                    exists().where(
                        OutboxEvent.published_at.is_(None),
                        OutboxEvent.occurred_at <= now - FIRST_ATTEMPT_GRACE,
                    )
                )
            )
        ).scalar_one()
        due = (await session.execute(select(exists().where(_due(now))))).scalar_one()
        if lost:
            await defer_fan_out(session)
        if due:
            await defer_deliver_due(session)
        return int(lost) + int(due)
