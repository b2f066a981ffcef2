from __future__ import annotations

import uuid

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.instances import deletion, flows
from saas_server.instances.service import APPLY_TIER_TASK, DELETE_TASK, PROVISION_TASK


@jobs_app.task(name=PROVISION_TASK, queue="provisioning", pass_context=True)
async def provision_instance(context: procrastinate.JobContext, *, instance_id: str) -> None:
    # Failures are recorded on the instance by the flow (failed, retryable by the user),
    # so the job itself ends; a killed worker's job is retried by the stalled-job sweep.
    await flows.provision(runtime_of(context), uuid.UUID(instance_id))


@jobs_app.task(
    name=DELETE_TASK,
    queue="provisioning",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10),
)
async def delete_instance(context: procrastinate.JobContext, *, instance_id: str) -> None:
    await deletion.delete(runtime_of(context), uuid.UUID(instance_id))


@jobs_app.task(
    name=APPLY_TIER_TASK,
    queue="provisioning",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10),
)
async def apply_tier(context: procrastinate.JobContext, *, instance_id: str, tier: str) -> None:
    await flows.apply_tier(runtime_of(context), uuid.UUID(instance_id), tier)
