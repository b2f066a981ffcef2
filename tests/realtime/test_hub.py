"""One process's hub: notifications reach every subscriber; a slow one is dropped alone."""

from __future__ import annotations

import asyncio

import psycopg

from saas_server.core.runtime import Runtime
from saas_server.realtime.hub import EVENTS_CHANNEL, EventHub

WAIT_SECONDS = 20.0


async def _notify(database_url: str, seqs: range) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for seq in seqs:
            await conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, str(seq)))


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_everything(
    runtime: Runtime,
) -> None:
    hub = EventHub(runtime.database_url, queue_size=3)
    try:
        slow = await hub.subscribe()
        fast = await hub.subscribe()
        received: list[int | None] = []

        async def keep_up() -> None:
            while len(received) < 10:
                batch = await fast.next_batch()
                assert batch is not None, "the subscriber keeping up was dropped"
                received.extend(batch)

        reader = asyncio.create_task(keep_up())
        async with asyncio.timeout(WAIT_SECONDS):
            for start in range(1, 11, 2):  # in steps the fast one follows, the slow one not
                await _notify(runtime.database_url, range(start, start + 2))
                while len(received) < start + 1:
                    await asyncio.sleep(0.01)
        await asyncio.wait_for(reader, WAIT_SECONDS)
        assert received == list(range(1, 11))
        assert slow.dropped.is_set()
        assert await slow.next_batch() is None
        assert hub.subscriber_count == 1
    finally:
        await hub.close()
