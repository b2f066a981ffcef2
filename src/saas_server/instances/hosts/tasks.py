"""Periodic upkeep: host health, standby pools, and jobs whose worker died."""

from __future__ import annotations

import logging

import procrastinate
from sqlalchemy import select

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.core.schedule import RETRY_STALLED_TASK
from saas_server.instances import service as instances
from saas_server.instances.hosts import standby
from saas_server.instances.hosts.jobs import CHECK_HOSTS_TASK, TEND_STANDBY_POOLS_TASK
from saas_server.instances.hosts.models import OdooHost
from saas_server.instances.hosts.service import HostService

logger = logging.getLogger(__name__)


@jobs_app.task(name=CHECK_HOSTS_TASK, queue="maintenance", pass_context=True)
async def check_all_hosts(context: procrastinate.JobContext) -> None:
    """Keep every host's status current. Uses /web/health and common.version only: a
    master-password check costs ~0.35 s on a real server and is never spent here."""
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        service = HostService(session, runtime)
        hosts = list(
            (await session.execute(select(OdooHost).with_for_update(skip_locked=True))).scalars()
        )
        for host in hosts:
            before = host.status
            await service.check(host)
            if host.status != before:
                logger.info("host %s: %s -> %s", host.name, before, host.status)
                await instances.resume_waiting(session, runtime, host.odoo_version)


@jobs_app.task(name=RETRY_STALLED_TASK, queue="maintenance", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext) -> None:
    """Jobs of a worker that stopped sending heartbeats (killed, lost) are retried."""
    await runtime_of(context).retry_stalled_jobs()


@jobs_app.task(name=TEND_STANDBY_POOLS_TASK, queue="maintenance", pass_context=True)
async def tend_standby_pools(context: procrastinate.JobContext) -> None:
    """Drop unwanted standby databases and prepare one more where a pool is short; run
    again at once while pools are short, or shortly when provisioning has the CPU."""
    runtime = runtime_of(context)
    result = await standby.tend(runtime)
    if result is standby.TendResult.MORE:
        await standby.defer_tend(runtime)
    elif result is standby.TendResult.LATER:
        await standby.defer_tend(runtime, standby.BUSY_RETRY_SECONDS)
