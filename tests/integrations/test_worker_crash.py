"""A worker killed with SIGKILL in the middle of processing an event loses nothing and
processes it once: the next worker runs the job again from a clean transaction."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from saas_server.core.runtime import Runtime
from saas_server.events.models import OutboxEvent
from saas_server.integrations.models import InboundEvent, InboundEventAttempt
from saas_server.integrations.service import PROCESS_EVENT_TASK
from tests.fixtures.auth import LoggedIn
from tests.fixtures.integrations import create_provider, event_body, post_signed
from tests.fixtures.workers import worker

pytestmark = pytest.mark.slow


async def job_status(runtime: Runtime) -> str | None:
    async with runtime.db.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": PROCESS_EVENT_TASK},
        )
        return found.scalar_one_or_none()


async def until(condition: object, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.1)


async def test_a_killed_worker_loses_no_event(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    runtime: Runtime,
    database_url: str,
    tmp_path: Path,
) -> None:
    await create_provider(client, admin, name="crm")
    assert (await post_signed(client, "crm", event_body("deal.won", "evt_k"))).status_code == 202

    first = worker(
        database_url,
        tmp_path / "w1",
        tmp_path / "w1.log",
        {"integrations.process": "sleep:120"},
    )
    try:
        # Inside the attempt: the handler emitted its event, nothing is committed.
        async def doing() -> bool:
            return await job_status(runtime) == "doing"

        await until(doing)
        await asyncio.sleep(1.0)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    async with runtime.db.sessionmaker() as session:
        event = (await session.execute(select(InboundEvent))).scalar_one()
        assert event.status == "pending" and event.attempts == 0
        re_emitted = select(OutboxEvent).where(OutboxEvent.type.startswith("integration."))
        assert (await session.execute(re_emitted)).first() is None

    await asyncio.sleep(2.5)  # the dead worker's heartbeat goes stale
    second = worker(database_url, tmp_path / "w2", tmp_path / "w2.log")
    try:

        async def processed() -> bool:
            async with runtime.db.sessionmaker() as session:
                found = (await session.execute(select(InboundEvent.status))).scalar_one()
                return found == "processed"

        await until(processed)
    finally:
        second.terminate()
        second.wait(timeout=60)
    async with runtime.db.sessionmaker() as session:
        re_emitted_types = select(OutboxEvent.type).where(
            OutboxEvent.type.startswith("integration.")
        )
        outbox = list((await session.execute(re_emitted_types)).scalars())
        attempts = list((await session.execute(select(InboundEventAttempt))).scalars())
    assert outbox == ["integration.crm.deal.won"]
    assert [(a.number, a.succeeded) for a in attempts] == [(1, True)]
