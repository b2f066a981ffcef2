from __future__ import annotations

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.tenants.deletion import purge_deleted_tenants

PURGE_TENANTS_TASK = "tenants.purge_deleted"


@jobs_app.task(name=PURGE_TENANTS_TASK, queue="maintenance", pass_context=True)
async def purge_deleted(context: procrastinate.JobContext) -> None:
    """Free the subdomains of tenants deleted longer ago than the grace period."""
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await purge_deleted_tenants(session, runtime.settings.subdomain_grace_days)
