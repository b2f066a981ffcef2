from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.webhooks import delivery
from saas_server.webhooks.delivery import (
    DELIVER_DUE_TASK,
    DELIVER_TASK,
    FAN_OUT_TASK,
    QUEUE,
    SWEEP_TASK,
)


@jobs_app.task(name=FAN_OUT_TASK, queue=QUEUE, pass_context=True)
async def fan_out(context: procrastinate.JobContext, *, event_id: str | None = None) -> None:
    # Jobs queued before decision 0037 name one event; any fan-out job takes every waiting
    # event, that one included.
    del event_id
    await delivery.fan_out_and_deliver(runtime_of(context), context.job.id)


@jobs_app.task(name=DELIVER_DUE_TASK, queue=QUEUE, pass_context=True)
async def deliver_due(context: procrastinate.JobContext) -> None:
    await delivery.deliver_due(runtime_of(context), context.job.id)


@jobs_app.task(name=DELIVER_TASK, queue=QUEUE, pass_context=True)
async def deliver(context: procrastinate.JobContext, *, delivery_id: str) -> None:
    await delivery.deliver(runtime_of(context), uuid.UUID(delivery_id))


@jobs_app.task(name=SWEEP_TASK, queue="maintenance", pass_context=True)
async def sweep(context: procrastinate.JobContext) -> None:
    await delivery.sweep(runtime_of(context))
