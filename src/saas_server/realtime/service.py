"""What one stream sends: the caller's visible events, replayed after ``Last-Event-ID`` and
then live, each read from the outbox by seq and filtered by the webhooks' visibility rule
(webhooks/visibility.py, evaluated for every batch with rights read since its events
committed, so a manager who loses a tenant stops receiving its events at once).

A stream holds no database connection while it waits; the rows and rights it needs are read
once for all the process's streams (realtime/reads.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true

from saas_server.auth.principal_cache import principal_cache_of
from saas_server.auth.sessions import Principal, still_authenticated
from saas_server.core import clock
from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.realtime.hub import EventHub, Subscription
from saas_server.tenants.base import TenantNotFound
from saas_server.tenants.service import tenant_visible_to
from saas_server.users.models import User
from saas_server.webhooks.visibility import Reader

# How far back a reconnecting client is replayed: "misses nothing recent", not everything.
REPLAY_MAX_EVENTS = 1000
REPLAY_MAX_AGE = timedelta(hours=24)
# Seqs remembered to skip an event both replayed and notified (or notified twice).
SENT_MEMORY = 10_000
# The first thing a stream sends, once it listens and has replayed: from then on the
# client misses nothing (tests and clients may wait for it before acting).
READY_COMMENT = "ready"
# An open stream checks its caller at least this often, besides when a change is heard.
RECHECK_SECONDS = 5.0


async def require_tenant(runtime: Runtime, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    """404 unless the caller can see the tenant, as everywhere."""
    async with runtime.db.sessionmaker() as session:
        user = await session.get(User, user_id)
        if user is None or not await tenant_visible_to(session, user, tenant_id):
            raise TenantNotFound()


def _visible_to(reader: Reader, tenant_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The visibility rule as SQL, to bound a replay to the caller's own events (the rows
    are checked again with ``Reader.can_read``, the rule's one definition)."""
    if reader.is_platform_admin:
        clause: ColumnElement[bool] = true()
    else:
        clause = or_(
            OutboxEvent.user_id == reader.user_id,
            OutboxEvent.tenant_id.in_(tuple(reader.managed_tenants))
            if reader.managed_tenants
            else false(),
        )
    if tenant_id is not None:
        clause = clause & (OutboxEvent.tenant_id == tenant_id)
    return clause


def _keeps(reader: Reader, tenant_id: uuid.UUID | None, event: OutboxEvent) -> bool:
    return reader.can_read(event) and (tenant_id is None or event.tenant_id == tenant_id)


async def _latest_seq(runtime: Runtime) -> int:
    async with runtime.db.sessionmaker() as session:
        return int((await session.execute(select(func.max(OutboxEvent.seq)))).scalar() or 0)


async def _after(
    runtime: Runtime, reader: Reader, tenant_id: uuid.UUID | None, after_seq: int
) -> list[OutboxEvent]:
    """The caller's recent events after ``after_seq``, oldest first, bounded."""
    since = clock.now() - REPLAY_MAX_AGE
    stmt = (
        select(OutboxEvent)
        .where(
            OutboxEvent.seq > after_seq,
            OutboxEvent.occurred_at >= since,
            _visible_to(reader, tenant_id),
        )
        .order_by(OutboxEvent.seq.desc())
        .limit(REPLAY_MAX_EVENTS)
    )
    async with runtime.db.sessionmaker() as session:
        rows = list((await session.execute(stmt)).scalars())
    return [event for event in reversed(rows) if _keeps(reader, tenant_id, event)]


async def _by_seq(
    runtime: Runtime,
    hub: EventHub,
    reader: Reader,
    tenant_id: uuid.UUID | None,
    seqs: Iterable[int],
) -> list[OutboxEvent]:
    events = await hub.reads.events(runtime, seqs)
    return [event for event in events if _keeps(reader, tenant_id, event)]


class _Sent:
    """The seqs already sent (the most recent :data:`SENT_MEMORY`), and the highest."""

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor
        self._seqs: set[int] = set()

    def __contains__(self, seq: int) -> bool:
        return seq in self._seqs

    def add(self, seq: int) -> None:
        self._seqs.add(seq)
        self.cursor = max(self.cursor, seq)
        if len(self._seqs) > SENT_MEMORY:
            self._seqs = set(sorted(self._seqs)[SENT_MEMORY // 2 :])


async def stream(
    runtime: Runtime,
    hub: EventHub,
    principal: Principal,
    *,
    tenant_id: uuid.UUID | None = None,
    last_event_id: int | None = None,
) -> AsyncIterator[bytes | dict[str, Any]]:
    """The caller's events: those after ``last_event_id`` (bounded), then live ones, until
    the client leaves, falls so far behind that it is dropped, or may no longer be served:
    its key revoked or expired, its session ended, its account suspended. The caller is
    checked again as soon as a change to their user, sessions or keys is heard (the
    principal cache's ``saas_auth_changed`` listener, any process), and at least every
    :data:`RECHECK_SECONDS` (an expiry announces nothing)."""
    user_id = principal.user.id
    cache = principal_cache_of(runtime)
    auth_changed = cache.watch(user_id)
    try:
        subscription: Subscription = await hub.subscribe()
    except BaseException:
        cache.unwatch(user_id, auth_changed)
        raise
    checked_at = time.monotonic()
    try:
        # Subscribed first, then replayed: an event committed in between is both replayed
        # and notified, and sent once.
        sent = _Sent(last_event_id if last_event_id is not None else await _latest_seq(runtime))
        if last_event_id is not None:
            reader = await hub.reads.reader(runtime, user_id, hub.heard)
            replayed = await _after(runtime, reader, tenant_id, last_event_id)
            for event in replayed:
                sent.add(event.seq)
            if replayed:
                yield hub.reads.encoded(replayed)
        yield {"comment": READY_COMMENT}
        while (
            batch := await subscription.next_batch(wake=auth_changed, wait_at_most=RECHECK_SECONDS)
        ) is not None:
            if auth_changed.is_set() or time.monotonic() - checked_at >= RECHECK_SECONDS:
                auth_changed.clear()  # before the check: a change during it wakes us again
                checked_at = time.monotonic()
                if not await still_authenticated(runtime, principal):
                    return
            if not batch:
                continue
            reader = await hub.reads.reader(runtime, user_id, hub.heard)
            seqs = {seq for seq in batch if seq is not None and seq not in sent}
            events = await _by_seq(runtime, hub, reader, tenant_id, seqs) if seqs else []
            if None in batch:  # notifications may have been lost: read what follows
                known = {event.seq for event in events}
                events += [
                    event
                    for event in await _after(runtime, reader, tenant_id, sent.cursor)
                    if event.seq not in sent and event.seq not in known
                ]
                events.sort(key=lambda event: event.seq)
            for event in events:
                sent.add(event.seq)
            if events:
                yield hub.reads.encoded(events)
    finally:
        hub.unsubscribe(subscription)
        cache.unwatch(user_id, auth_changed)
