"""The periodic threat detection (security/threats.py), tenant scans and their weekly
schedule (security/scans.py)."""

from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.security.scans import (
    SCAN_TASK,
    SCHEDULE_SCANS_TASK,
    run_scan,
    schedule_weekly_scans,
)
from saas_server.security.threats import detect_threats

DETECT_THREATS_TASK = "security.detect_threats"


@jobs_app.task(name=DETECT_THREATS_TASK, queue="maintenance", pass_context=True)
async def detect_threats_task(context: procrastinate.JobContext) -> None:
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await detect_threats(session, runtime.settings)


@jobs_app.task(name=SCAN_TASK, queue="maintenance", pass_context=True)
async def scan_tenant_task(context: procrastinate.JobContext, scan_id: str) -> None:
    await run_scan(runtime_of(context), uuid.UUID(scan_id))


@jobs_app.task(name=SCHEDULE_SCANS_TASK, queue="maintenance", pass_context=True)
async def schedule_scans_task(context: procrastinate.JobContext) -> None:
    """Each ready tenant is scanned weekly (the job runs hourly; it requests the due ones)."""
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await schedule_weekly_scans(session)
