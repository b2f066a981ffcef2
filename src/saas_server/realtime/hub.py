"""One listener per API process, fanning the outbox's notifications out to its streams.

Every event recorded sends ``NOTIFY saas_events, '<seq>'`` in its own transaction
(:func:`notify_recorded`, connected in wiring.py), so PostgreSQL delivers it at commit to
every API process, whichever caused it. Each process LISTENs once (:class:`EventHub`) and
puts the seq into each subscriber's bounded queue; the subscriber reads the rows itself and
keeps what its caller may read. A subscriber too slow to keep up is dropped (its stream
ends; the client reconnects with ``Last-Event-ID`` and replays what it missed) rather than
slowing the others or growing without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.notifications import ChangeListener
from saas_server.events.models import OutboxEvent
from saas_server.realtime.reads import SharedReads

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "saas_events"
# Notifications a subscriber may have waiting before it is dropped.
SUBSCRIBER_QUEUE_SIZE = 1000
# What a queue carries besides seqs: "notifications may have been lost, catch up".
CATCH_UP: None = None


async def notify_recorded(session: AsyncSession, event: OutboxEvent) -> None:
    """The ``events.event_recorded`` handler: NOTIFY the seq, delivered when the caller
    commits (and never if it rolls back)."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": EVENTS_CHANNEL, "payload": str(event.seq)},
    )


async def notify_all_recorded(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """The ``events.events_recorded`` handler: :func:`notify_recorded` for a batch, their
    seqs read and NOTIFYed in order, one statement each."""
    seqs = (
        (
            await session.execute(
                select(OutboxEvent.seq)
                .where(OutboxEvent.id.in_([event.id for event in events]))
                .order_by(OutboxEvent.seq)
            )
        )
        .scalars()
        .all()
    )
    await session.execute(
        text("SELECT pg_notify(:channel, seq::text) FROM unnest(CAST(:seqs AS bigint[])) seq"),
        {"channel": EVENTS_CHANNEL, "seqs": list(seqs)},
    )


class Subscription:
    """One stream's queue of seqs (or :data:`CATCH_UP`); ``dropped`` once it overflowed."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=size)
        self.dropped = asyncio.Event()

    def offer(self, item: int | None) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True

    async def next_batch(
        self, *, wake: asyncio.Event | None = None, wait_at_most: float | None = None
    ) -> list[int | None] | None:
        """What arrived, waiting for at least one item; None once dropped. An empty batch
        when ``wake`` was set or ``wait_at_most`` seconds passed first (the stream then checks
        its caller again)."""
        if self.dropped.is_set():
            return None
        if self.queue.empty():
            getter = asyncio.ensure_future(self.queue.get())
            dropper = asyncio.ensure_future(self.dropped.wait())
            waiting: set[asyncio.Future[Any]] = {getter, dropper}
            waker = asyncio.ensure_future(wake.wait()) if wake is not None else None
            if waker is not None:
                waiting.add(waker)
            try:
                await asyncio.wait(
                    waiting, timeout=wait_at_most, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for future in waiting:
                    future.cancel()
            if self.dropped.is_set():
                return None
            if not getter.done() or getter.cancelled():
                return []
            batch = [getter.result()]
        else:
            batch = [self.queue.get_nowait()]
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch


class EventHub:
    """The process's one LISTEN on :data:`EVENTS_CHANNEL` and its subscribers."""

    def __init__(self, database_url: str, *, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        # What the streams read, read once for all of them.
        self.reads = SharedReads(lambda: self.heard)
        # Notifications (and resets) heard so far: how recent rights must be (reads.py).
        self.heard = 0
        self._subscribers: set[Subscription] = set()
        self._listener = ChangeListener(
            database_url,
            EVENTS_CHANNEL,
            on_change=self._on_notify,
            on_reset=self._on_reset,
            name="event stream",
        )

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def start(self) -> None:
        self._listener.start()

    async def subscribe(self) -> Subscription:
        """A new subscriber, once the process listens: from then on nothing committed is
        missed (what committed before, the stream replays from the database)."""
        await self._listener.wait_listening()
        subscription = Subscription(self.queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def _on_notify(self, payload: str) -> None:
        try:
            seq = int(payload)
        except ValueError:
            logger.warning("event stream: ignoring notification %r", payload[:40])
            return
        self._offer(seq)

    def _on_reset(self) -> None:
        # The connection dropped (or came back): notifications may have been lost.
        self._offer(CATCH_UP)

    def _offer(self, item: int | None) -> None:
        self.heard += 1
        for subscription in list(self._subscribers):
            if not subscription.offer(item):
                logger.info("event stream: dropping a subscriber that fell behind")
                self._subscribers.discard(subscription)

    async def close(self) -> None:
        for subscription in list(self._subscribers):
            subscription.dropped.set()
        self._subscribers.clear()
        await self._listener.close()
