"""core/notifications.py: a listener on any channel, and when what it heard can be trusted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg

from saas_server.core.notifications import ChangeListener


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def notify(database_url: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def test_a_listener_hears_its_channel_only_and_resets_around_an_outage(
    database_url: str,
) -> None:
    heard: list[str] = []
    resets: list[bool] = []
    listener = ChangeListener(
        database_url,
        "test_Channel",  # quoted as an identifier: case and all
        on_change=heard.append,
        on_reset=lambda: resets.append(listener.listening),
        name="test",
    )
    assert not listener.listening
    await listener.wait_listening()
    assert resets == [False]  # once LISTEN is on, before it is trusted
    await notify(database_url, "other_channel", "not for us")
    await notify(database_url, "test_Channel", "first")
    await until(lambda: heard == ["first"])

    # Arrived but unread: drain() hands it over without waiting for the listening task.
    await notify(database_url, "test_Channel", "second")
    await until(lambda: listener.drain() and "second" in heard)
    assert heard == ["first", "second"]

    conn = listener._conn
    assert conn is not None
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    await until(lambda: len(resets) >= 2)  # down: what it heard may be incomplete
    await until(lambda: listener.listening)
    assert len(resets) >= 3  # and again once listening resumes
    await notify(database_url, "test_Channel", "third")
    await until(lambda: heard[-1] == "third")
    await listener.close()
    assert not listener.listening
