from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.integrations import health, odoo, processing
from saas_server.integrations.service import (
    CHECK_HEALTH_TASK,
    INSTALL_ODOO_SECRET_TASK,
    PROCESS_EVENT_TASK,
    RETRY_DUE_TASK,
    TEND_ODOO_SECRETS_TASK,
)


@jobs_app.task(name=PROCESS_EVENT_TASK, queue="integrations", pass_context=True)
async def process_event(
    context: procrastinate.JobContext, *, event_id: str, manual: bool = False
) -> None:
    # One attempt; its outcome (a scheduled retry included) is committed on the event row.
    await processing.process_event(runtime_of(context), uuid.UUID(event_id), manual=manual)


@jobs_app.task(name=RETRY_DUE_TASK, queue="maintenance", pass_context=True)
async def retry_due(context: procrastinate.JobContext) -> None:
    await processing.defer_due_retries(runtime_of(context))


@jobs_app.task(name=CHECK_HEALTH_TASK, queue="maintenance", pass_context=True)
async def check_health(context: procrastinate.JobContext) -> None:
    await health.check_providers(runtime_of(context))


@jobs_app.task(name=INSTALL_ODOO_SECRET_TASK, queue="integrations", pass_context=True)
async def install_odoo_secret(context: procrastinate.JobContext, *, instance_id: str) -> None:
    await odoo.install_secret(runtime_of(context), uuid.UUID(instance_id))


@jobs_app.task(name=TEND_ODOO_SECRETS_TASK, queue="maintenance", pass_context=True)
async def tend_odoo_secrets(context: procrastinate.JobContext) -> None:
    await odoo.tend_secrets(runtime_of(context))
