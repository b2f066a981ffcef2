from __future__ import annotations

from datetime import timedelta

import procrastinate

from saas_server.core import clock, idempotency
from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.core.runtime import Runtime
from saas_server.tenants.deletion import purge_deleted_tenants

PURGE_TENANTS_TASK = "tenants.purge_deleted"
# Idempotency keys serve creating tenants first (and backups, billing); the answers are core's.
FORGET_IDEMPOTENCY_KEYS_TASK = "tenants.forget_idempotency_keys"


@jobs_app.task(name=PURGE_TENANTS_TASK, queue="maintenance", pass_context=True)
async def purge_deleted(context: procrastinate.JobContext) -> None:
    """Free the subdomains of tenants deleted longer ago than the grace period."""
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await purge_deleted_tenants(session, runtime.settings.subdomain_grace_days)


@jobs_app.task(name=FORGET_IDEMPOTENCY_KEYS_TASK, queue="maintenance", pass_context=True)
async def forget_idempotency_keys(context: procrastinate.JobContext) -> None:
    """Forget Idempotency-Key answers older than the retention (hourly)."""
    await forget_expired_idempotency_keys(runtime_of(context))


async def forget_expired_idempotency_keys(runtime: Runtime) -> int:
    hours = runtime.settings.idempotency_key_retention_hours
    async with runtime.db.transaction() as session:
        return await idempotency.forget_before(session, clock.now() - timedelta(hours=hours))
