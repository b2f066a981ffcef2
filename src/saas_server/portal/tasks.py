from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.portal import service, sync


@jobs_app.task(name=service.PREPARE_TASK, queue="portal", pass_context=True)
async def prepare_portal(context: procrastinate.JobContext, *, tenant_id: str) -> None:
    await service.prepare(runtime_of(context), uuid.UUID(tenant_id))


@jobs_app.task(name=sync.SYNC_TASK, queue="portal", pass_context=True)
async def sync_tenant(context: procrastinate.JobContext, *, tenant_id: str) -> None:
    await sync.run_sync(runtime_of(context), uuid.UUID(tenant_id))


@jobs_app.task(name=sync.SYNC_DUE_TASK, queue="maintenance", pass_context=True)
async def sync_due(context: procrastinate.JobContext) -> None:
    await sync.defer_due_syncs(runtime_of(context))
