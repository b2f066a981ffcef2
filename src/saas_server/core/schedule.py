"""Recurring jobs, deferred by every long-running worker.

procrastinate's own periodic tasks bind to the app they were declared on, which here is the
connector-less template app; so the schedule is this small loop instead. Each entry is
deferred with a queueing lock, so however many workers run, at most one copy waits.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from saas_server.core import clock
from saas_server.core.jobs import defer

if TYPE_CHECKING:
    from saas_server.core.runtime import Runtime

logger = logging.getLogger(__name__)

# The task that puts dead workers' jobs back in the queue (``Runtime.retry_stalled_jobs``).
RETRY_STALLED_TASK = "jobs.retry_stalled"
# The domains' maintenance tasks are named by the domains; which run, and how often, comes
# from the runtime's parts (``saas_server.wiring.schedule``).


def schedule(runtime: Runtime) -> dict[str, float]:
    """Task name -> interval in seconds: the wired schedule, plus retrying stalled jobs."""
    return {
        RETRY_STALLED_TASK: max(runtime.settings.stalled_worker_seconds / 2, 1.0),
        **runtime.parts.schedule(runtime.settings),
    }


async def run_schedule(runtime: Runtime) -> None:
    loop = asyncio.get_running_loop()
    due = dict.fromkeys(schedule(runtime), loop.time())
    while True:
        now = loop.time()
        for task_name, interval in schedule(runtime).items():
            if now < due[task_name]:
                continue
            due[task_name] = now + interval
            await defer_maintenance(runtime, task_name)
        await asyncio.sleep(max(0.5, min(due.values()) - loop.time()))


async def defer_maintenance(
    runtime: Runtime, task_name: str, *, delay_seconds: float = 0.0
) -> None:
    """Queue a run of a maintenance task unless one is waiting already (its queueing lock:
    at most one copy waits, however many workers ask)."""
    scheduled_at = clock.now() + timedelta(seconds=delay_seconds) if delay_seconds else None
    try:
        async with runtime.db.transaction() as session:
            await defer(
                session,
                task_name,
                queue="maintenance",
                queueing_lock=task_name,
                scheduled_at=scheduled_at,
            )
    except Exception as exc:  # the database restarting: the next round defers it
        logger.debug("not deferring %s: %s", task_name, exc)
