"""Billing's jobs."""

from __future__ import annotations

import uuid

import procrastinate

from saas_platform.billing.seats import SYNC_SEATS_TASK, sync_seats
from saas_platform.core.jobs import jobs_app, runtime_of


@jobs_app.task(name=SYNC_SEATS_TASK, queue="provisioning", pass_context=True)
async def sync_subscription_seats(
    context: procrastinate.JobContext, *, subscription_id: str
) -> None:
    await sync_seats(runtime_of(context), uuid.UUID(subscription_id))
