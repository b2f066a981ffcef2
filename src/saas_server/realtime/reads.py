"""What the streams of one process read, read once: an event notified is read by the first
stream that needs it and served to the others from memory, and a caller's reading rights
are shared by their streams while no notification arrived since they were read.

Why that is enough: an event and the membership change that makes it readable commit in
one transaction, and its notification arrives after that commit; rights read after the
notification arrived see the membership. So rights read when the hub had heard ``n``
notifications judge every event among the first ``n``, and a batch asks for rights at least
as recent as its last notification.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable

from sqlalchemy import select

from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.realtime.messages import encode
from saas_server.users.models import User
from saas_server.webhooks.visibility import Reader, reader_of

# Events kept in memory: many times what arrives while a batch is served.
CACHED_EVENTS = 5000
# Past this many callers' rights kept, those not being read are let go.
MAX_READERS = 1000


class SharedReads:
    def __init__(self, heard: Callable[[], int]) -> None:
        # How many notifications the hub has heard so far.
        self._heard = heard
        self._events: dict[int, OutboxEvent] = {}
        # Each event's message, encoded once for every stream that sends it.
        self._encoded: dict[int, bytes] = {}
        self._events_lock = asyncio.Lock()
        self._readers: dict[uuid.UUID, tuple[int, Reader]] = {}
        self._reader_locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def events(self, runtime: Runtime, seqs: Iterable[int]) -> list[OutboxEvent]:
        """The events of ``seqs`` (those that exist), by seq."""
        wanted = sorted(set(seqs))
        async with self._events_lock:  # one read for every stream waiting on the same seqs
            missing = [seq for seq in wanted if seq not in self._events]
            if missing:
                stmt = select(OutboxEvent).where(OutboxEvent.seq.in_(missing))
                async with runtime.db.sessionmaker() as session:
                    for event in (await session.execute(stmt)).scalars():
                        self._events[event.seq] = event
                while len(self._events) > CACHED_EVENTS:
                    oldest = next(iter(self._events))
                    del self._events[oldest]
                    self._encoded.pop(oldest, None)
        return [self._events[seq] for seq in wanted if seq in self._events]

    def encoded(self, events: Iterable[OutboxEvent]) -> bytes:
        """The messages of ``events``, as one chunk."""
        chunks = []
        for event in events:
            chunk = self._encoded.get(event.seq)
            if chunk is None:
                chunk = encode(event)
                if event.seq in self._events:  # evicted with it
                    self._encoded[event.seq] = chunk
            chunks.append(chunk)
        return b"".join(chunks)

    async def reader(self, runtime: Runtime, user_id: uuid.UUID, as_of: int) -> Reader:
        """``user_id``'s rights, read after the hub heard at least ``as_of`` notifications."""
        lock = self._reader_locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            cached = self._readers.get(user_id)
            if cached is not None and cached[0] >= as_of:
                return cached[1]
            heard = self._heard()
            async with runtime.db.sessionmaker() as session:
                user = await session.get(User, user_id)
                reader = (
                    await reader_of(session, user)
                    if user is not None
                    else Reader(user_id=user_id, is_platform_admin=False)  # deleted: nothing
                )
            if len(self._readers) >= MAX_READERS:
                self._prune()
            self._readers[user_id] = (heard, reader)
            return reader

    def _prune(self) -> None:
        for user_id in list(self._readers):
            lock = self._reader_locks.get(user_id)
            if lock is None or not lock.locked():
                del self._readers[user_id]
                self._reader_locks.pop(user_id, None)
