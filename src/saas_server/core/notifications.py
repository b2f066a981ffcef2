"""Listen on a PostgreSQL channel, and know when what was heard can be trusted.

A process that keeps copies of rows in memory learns of changes made elsewhere (other
processes, raw SQL) from triggers that ``NOTIFY`` a channel. One connection per consumer
``LISTEN``s. Notifications sent while it is down are lost, so the consumer is told (its
``on_reset``) whenever that may have happened, and must serve nothing from memory unless
the listener is ``listening``; :meth:`ChangeListener.drain` reads the notifications that
already arrived, without a round trip, so a consumer can drain before it trusts a copy.

Used by ``auth/principal_cache.py`` (channel ``saas_auth_changed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

# The listening connection: reconnect backoff, and a ping to notice a silently dead link.
RECONNECT_MIN_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 10.0
PING_INTERVAL_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 5.0


class ChangeListener:
    """One connection LISTENing on ``channel``, reconnecting with backoff when it drops.

    ``on_change`` gets each notification's payload. ``on_reset`` is called whenever
    notifications may have been missed (the connection went down) and again once listening
    resumes, so whatever was read meanwhile is not trusted either.
    """

    def __init__(
        self,
        database_url: str,
        channel: str,
        *,
        on_change: Callable[[str], None],
        on_reset: Callable[[], None],
        name: str = "change listener",
    ) -> None:
        self.database_url = database_url
        self.channel = channel
        # Who listens, in log lines and the task's name.
        self.name = name
        self._on_change = on_change
        self._on_reset = on_reset
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        # True only while the connection waits for notifications: draining then is safe,
        # while during a ping it would swallow the reply psycopg is waiting for.
        self._idle = False
        self._up = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._up.is_set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{self.name.replace(' ', '-')}-listener"
            )

    async def wait_listening(self) -> None:
        self.start()
        await self._up.wait()

    def drain(self) -> bool:
        """Handle the notifications that already arrived, without waiting or a round trip.
        False when they could not be read (not listening, or the connection is busy)."""
        conn = self._conn
        if conn is None or not self._idle:
            return False
        pgconn = conn.pgconn
        try:
            pgconn.consume_input()
        except psycopg.OperationalError:
            self._down()  # the listening task notices too, and reconnects
            return False
        while (notify := pgconn.notifies()) is not None:
            self._on_change(notify.extra.decode())
        return True

    async def _run(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                conn = await self._connect()
            except psycopg.Error as exc:
                logger.warning("%s: cannot listen for changes: %s", self.name, exc)
            else:
                try:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._conn = conn
                    self._on_reset()  # rows read before LISTEN may have changed unheard
                    self._up.set()
                    delay = RECONNECT_MIN_SECONDS
                    await self._pump(conn)
                except (psycopg.Error, TimeoutError) as exc:
                    logger.warning("%s: change listener lost: %s", self.name, exc)
                except Exception:
                    logger.exception("%s: change listener failed", self.name)
                finally:
                    self._down()
                    await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)

    async def _pump(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            self._idle = True
            try:
                async for notify in conn.notifies(timeout=PING_INTERVAL_SECONDS):
                    self._on_change(notify.payload)
            finally:
                self._idle = False
            if not self.listening:
                return  # drain() saw the connection fail
            await asyncio.wait_for(conn.execute("SELECT 1"), PING_TIMEOUT_SECONDS)

    def _down(self) -> None:
        self._idle = False
        self._conn = None
        if self._up.is_set():
            self._up.clear()
            self._on_reset()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._down()
