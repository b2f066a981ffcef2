"""Processing accepted events: one attempt per job, its outcome committed with its effects.

An attempt runs the event's handler in a savepoint of the job's transaction, then records
the attempt and moves the status along ``INBOUND_EVENT`` in that same transaction: a
worker killed mid-attempt commits nothing, and procrastinate's stalled-job sweep runs the
job again. A failed attempt schedules the next on seed 002's schedule, measured on the
platform's clock (``next_attempt_at``); a periodic job (:func:`defer_due_retries`) queues
the retries that fell due, so tests move the clock instead of waiting.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from saas_server.core import clock, faults
from saas_server.core.errors import AppError
from saas_server.core.runtime import Runtime
from saas_server.core.settings import Settings
from saas_server.integrations.handlers import HandlerContext, handler_for
from saas_server.integrations.lifecycle import INBOUND_EVENT, EventAction
from saas_server.integrations.models import (
    EventStatus,
    InboundEvent,
    InboundEventAttempt,
    IntegrationProvider,
)
from saas_server.integrations.service import defer_processing

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
# Retries queued per sweep; the rest wait for the next one.
SWEEP_BATCH = 500


def retry_delay(settings: Settings, retry_number: int) -> timedelta:
    """Seed 002: the first retry after 60 s, each next twice as long, never over 300 s."""
    seconds = settings.integrations_retry_first_seconds * 2 ** (retry_number - 1)
    return timedelta(seconds=min(seconds, settings.integrations_retry_max_seconds))


def describe(exc: Exception) -> str:
    if isinstance(exc, AppError):
        text = f"{exc.code}: {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX_CHARS]


async def process_event(runtime: Runtime, event_id: uuid.UUID, *, manual: bool = False) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as session:
        event = await session.get(InboundEvent, event_id, with_for_update=True)
        # Processed (or waiting for a retry) already: a repeated job does nothing.
        if event is None or event.status != EventStatus.PENDING.value:
            return
        handler = handler_for(event.kind, event.event_type)
        if handler is None:
            INBOUND_EVENT.apply(event, EventAction.FIND_NO_HANDLER)
            event.last_error = (
                f"No handler is connected for {event.kind} events of type "
                f"{event.event_type!r} yet; the event is kept and can be retried once one is."
            )
            return
        provider = (
            await session.get(IntegrationProvider, event.provider_id)
            if event.provider_id is not None
            else None
        )
        started = clock.now()
        event.attempts += 1
        number = event.attempts
        await session.flush()
        error: str | None = None
        result = None
        try:
            async with session.begin_nested():
                result = await handler(HandlerContext(session, runtime, event, provider))
                # Tests hold a worker here, the handler's work done and nothing committed.
                await faults.checkpoint(settings, "integrations.process")
        except Exception as exc:
            error = describe(exc)
            if not isinstance(exc, AppError):
                logger.warning("integration event %s failed", event_id, exc_info=True)
            # The savepoint's rollback expired what the handler touched: read it afresh.
            await session.refresh(event)
        session.add(
            InboundEventAttempt(
                event_id=event.id,
                number=number,
                started_at=started,
                finished_at=clock.now(),
                succeeded=error is None,
                error=error,
                manual=manual,
            )
        )
        if error is None:
            INBOUND_EVENT.apply(event, EventAction.SUCCEED)
            event.processed_at = clock.now()
            event.result = result
            event.last_error = None
        elif manual or event.retries >= settings.integrations_max_retries:
            INBOUND_EVENT.apply(event, EventAction.FAIL)
            event.last_error = error
        else:
            event.retries += 1
            event.next_attempt_at = clock.now() + retry_delay(settings, event.retries)
            INBOUND_EVENT.apply(event, EventAction.FAIL_AND_RETRY)
            event.last_error = error


async def defer_due_retries(runtime: Runtime) -> int:
    """Queue processing of every event whose next attempt is due on the platform's clock."""
    async with runtime.db.transaction() as session:
        due = (
            await session.execute(
                select(InboundEvent)
                .where(
                    InboundEvent.status == EventStatus.RETRYING.value,
                    InboundEvent.next_attempt_at <= clock.now(),
                )
                .order_by(InboundEvent.next_attempt_at)
                .limit(SWEEP_BATCH)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        count = 0
        for event in due:
            INBOUND_EVENT.apply(event, EventAction.RETRY)
            event.next_attempt_at = None
            await defer_processing(session, event.id)
            count += 1
        return count
