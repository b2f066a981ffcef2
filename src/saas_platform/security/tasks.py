"""The periodic threat detection (security/threats.py)."""

from __future__ import annotations

import procrastinate

from saas_platform.core.jobs import jobs_app, runtime_of
from saas_platform.security.threats import detect_threats

DETECT_THREATS_TASK = "security.detect_threats"


@jobs_app.task(name=DETECT_THREATS_TASK, queue="maintenance", pass_context=True)
async def detect_threats_task(context: procrastinate.JobContext) -> None:
    runtime = runtime_of(context)
    async with runtime.db.transaction() as session:
        await detect_threats(session, runtime.settings)
