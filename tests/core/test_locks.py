"""core/locks.py: one holder at a time, across connections; released on exit."""

from __future__ import annotations

import asyncio

from saas_server.core.locks import advisory_lock


async def test_a_tried_lock_is_refused_while_held_and_taken_after(database_url: str) -> None:
    async with advisory_lock(database_url, "test:one") as held:
        assert held is True
        async with advisory_lock(database_url, "test:one", wait=False) as again:
            assert again is False
        async with advisory_lock(database_url, "test:other", wait=False) as other:
            assert other is True
    async with advisory_lock(database_url, "test:one", wait=False) as after:
        assert after is True


async def test_a_waiting_lock_waits_for_the_holder(database_url: str) -> None:
    order: list[str] = []

    async def second() -> None:
        async with advisory_lock(database_url, "test:wait"):
            order.append("second")

    async with advisory_lock(database_url, "test:wait"):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert order == []
        order.append("first")
    await asyncio.wait_for(waiter, 10)
    assert order == ["first", "second"]
