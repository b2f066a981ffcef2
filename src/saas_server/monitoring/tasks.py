"""The periodic sampling of every ready instance (its rollups and pruning included)."""

from __future__ import annotations

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.monitoring.sampling import sample_all

SAMPLE_TASK = "monitoring.sample_metrics"


@jobs_app.task(name=SAMPLE_TASK, queue="maintenance", pass_context=True)
async def sample_metrics(context: procrastinate.JobContext) -> None:
    await sample_all(runtime_of(context))
