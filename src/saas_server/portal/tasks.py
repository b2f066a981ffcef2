from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.portal import notifications, service, sync


@jobs_app.task(name=service.PREPARE_TASK, queue="portal", pass_context=True)
async def prepare_portal(context: procrastinate.JobContext, *, tenant_id: str) -> None:
    await service.prepare(runtime_of(context), uuid.UUID(tenant_id))


@jobs_app.task(name=sync.SYNC_TASK, queue="portal", pass_context=True)
async def sync_tenant(context: procrastinate.JobContext, *, tenant_id: str) -> None:
    await sync.run_sync(runtime_of(context), uuid.UUID(tenant_id))


@jobs_app.task(name=sync.SYNC_DUE_TASK, queue="maintenance", pass_context=True)
async def sync_due(context: procrastinate.JobContext) -> None:
    await sync.defer_due_syncs(runtime_of(context))


@jobs_app.task(name=notifications.MAIL_TASK, queue="portal", pass_context=True)
async def mail_notifications(context: procrastinate.JobContext, *, tenant_id: str) -> None:
    """Mail the tenant's notifications made outside a sync (marketing's events)."""
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await notifications.mail_pending(session, runtime, uuid.UUID(tenant_id))
